/**
 * Mean-reverting (IR-SDE) models: how a model folder says it is one, and the DenoiseFn that calls its network.
 *
 * FlowStudio's convention (IR-SDE ships PyTorch checkpoints, not diffusers folders): a folder or sidecar whose
 * scheduler config has `_class_name: "IRSDEScheduler"` and IR-SDE's own `sde` options (max_sigma, T, schedule,
 * eps), plus MR Sampler's `lambda_min` and `mu_input`, the network input that takes the degraded image mu
 * (IR-SDE's ConditionalUNet is called as model(x, mu, t); default "cond"). The network predicts the noise of
 * x_t = mu + a_t (x0 - mu) + sbar_t eps at training time t; the sampler's state is x_t itself.
 */
import { Tensor } from '../core/tensor.ts';
import type { Conditioning, ModelHandle, SchedulerConfig, Sigmas } from '../core/values.ts';
import { bindDenoiser, checkEveryInputFed, conditioningFeeds, feedShapeChecker, feedType, timestepFeed } from './denoiser.ts';
import { irsdeSigmas, irsdeTable, type IrsdeTable } from './irsde.ts';
import { mrCoefficients } from './mrs.ts';
import type { DenoiseFn } from './solver.ts';

export const IRSDE_SCHEDULER = 'IRSDEScheduler';

export function isMeanReverting(cfg: SchedulerConfig): boolean {
  return cfg._class_name === IRSDE_SCHEDULER;
}

/** What an IRSDEScheduler config says: the schedule tables, MR Sampler's lambda_min and the network's mu input. */
export interface IrsdeModel {
  table: IrsdeTable;
  /** MR Sampler's lambda_min (default -inf: the grid starts at t = T). */
  lambdaMin: number;
  /** The network input fed mu. */
  muInput: string;
}

function optionalNumber(cfg: SchedulerConfig, key: string): number | undefined {
  const v = cfg[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`IRSDEScheduler config: ${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

export function readIrsdeModel(cfg: SchedulerConfig): IrsdeModel {
  const schedule = cfg.schedule;
  if (schedule !== undefined && typeof schedule !== 'string') throw new Error(`IRSDEScheduler config: schedule must be a string, got ${JSON.stringify(schedule)}`);
  const muInput = cfg.mu_input ?? 'cond';
  if (typeof muInput !== 'string' || !muInput) throw new Error(`IRSDEScheduler config: mu_input must be an input name, got ${JSON.stringify(muInput)}`);
  return {
    table: irsdeTable({ max_sigma: optionalNumber(cfg, 'max_sigma'), T: optionalNumber(cfg, 'T'), schedule, eps: optionalNumber(cfg, 'eps') }),
    lambdaMin: optionalNumber(cfg, 'lambda_min') ?? -Infinity,
    muInput,
  };
}

/** MR Sampler's grid of `steps` steps for the model. */
export function irsdeModelGrid(m: IrsdeModel, steps: number): Sigmas {
  return irsdeSigmas(m.table, { steps, lambdaMin: m.lambdaMin });
}

export interface MrDenoiserOptions {
  mu: Tensor;
  sigmaInf: number;
  muInput: string;
  /** Other network inputs (IR-SDE variants with text or degradation context). */
  conditioning?: Conditioning;
  signal?: AbortSignal;
}

/**
 * The network at level s (IR-SDE training time t = level.timestep): eps from (x, mu, t), and
 * x0 = mu + (x - mu - sbar eps) / a, IR-SDE's get_init_state_from_noise.
 */
export function mrDenoiseFn(handle: ModelHandle, opts: MrDenoiserOptions): DenoiseFn {
  const binding = bindDenoiser(handle);
  const { mu, sigmaInf, muInput } = opts;
  const names = handle.denoiser.inputs.map((i) => i.name);
  const muInfo = handle.denoiser.inputs.find((i) => i.name === muInput);
  if (!muInfo) throw new Error(`the mean-reverting network has no input "${muInput}" for the degraded image mu (inputs: ${names.join(', ')}); set mu_input in its scheduler config`);
  if (!muInfo.type.startsWith('float')) throw new Error(`mu_input "${muInput}" has element type ${muInfo.type}, expected a float type for the degraded image`);
  if (muInfo === binding.sample || muInfo === binding.timestep) throw new Error(`mu_input "${muInput}" is the network's ${muInfo === binding.sample ? 'sample' : 'timestep'} input`);
  const feeds = conditioningFeeds(handle, binding, opts.conditioning);
  if (muInput in feeds) throw new Error(`conditioning input "${muInput}" is the mu input, which the Sampler feeds from its mean input`);
  checkEveryInputFed(handle, binding, feeds, [muInput]);
  feeds[muInput] = { dims: mu.dims, data: mu.data, type: feedType(muInfo) };
  const sampleType = feedType(binding.sample);
  const checkShapes = feedShapeChecker(handle, binding, feeds);
  return async (x, level) => {
    checkShapes(x.dims);
    const batch = x.dims[0] ?? 1;
    const outputs = await handle.denoiser.run(
      { ...feeds, [binding.sample.name]: { dims: x.dims, data: x.data, type: sampleType }, [binding.timestep.name]: timestepFeed(binding.timestep, level.timestep, batch) },
      opts.signal,
    );
    let eps = outputs[binding.output] ?? Object.values(outputs)[0];
    if (!eps) throw new Error(`denoiser returned no output "${binding.output}"`);
    if (!eps.sameShape(x)) {
      if (eps.size !== x.size) throw new Error(`model output shape ${eps.shapeString()} does not match the sample shape ${x.shapeString()}`);
      eps = eps.reshape(x.dims);
    }
    const { a, sbar } = mrCoefficients(level.sigma, sigmaInf);
    const denoised = new Tensor(x.dims);
    const d = denoised.data;
    for (let k = 0; k < d.length; k++) d[k] = mu.data[k] + (x.data[k] - mu.data[k] - sbar * eps.data[k]) / a;
    return { denoised, eps, derivative: eps };
  };
}
