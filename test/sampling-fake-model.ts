/**
 * Test support for the sampling tests: ModelHandles whose denoiser.run() evaluates the closed-form optimal
 * model of Gaussian data (nodes/sampling/gaussian.ts) instead of an ONNX network, plus small numeric helpers.
 * The model maps its timestep to a noise level on its own (training table, linear interpolation in sigma,
 * as diffusers' Euler does), so it does not reuse the schedule code under test.
 */
import { Tensor } from '../nodes/core/tensor.ts';
import type { ModelFeed, ModelHandle, SchedulerConfig, TensorInfo } from '../nodes/core/values.ts';
import { alphasCumprod, betasFromConfig } from '../nodes/sampling/betas.ts';
import { denoisedVE, denoisedVP, epsVP, velocityRF, type GaussianParams } from '../nodes/sampling/gaussian.ts';
import type { DenoiseFn } from '../nodes/sampling/solver.ts';

export const SD_VP_DDIM: SchedulerConfig = {
  _class_name: 'DDIMScheduler',
  num_train_timesteps: 1000,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  beta_end: 0.012,
  timestep_spacing: 'leading',
  steps_offset: 1,
  set_alpha_to_one: false,
  clip_sample: false,
  prediction_type: 'epsilon',
};

export interface FakeModel extends ModelHandle {
  calls: number;
  /** Timesteps the model was called with, in call order. */
  seen: number[];
  /** Called at the start of every run (e.g. to abort mid-loop). */
  onRun?: (call: number) => void;
}

function feedNumber(feed: ModelFeed): number {
  const v = feed.data[0];
  return typeof v === 'bigint' ? Number(v) : v;
}

function toF64(feed: ModelFeed): Float64Array {
  return Float64Array.from(feed.data as Float32Array);
}

/** VE sigma of a (fractional) training index: linear in sigma between table entries. */
function tableSigma(abar: Float64Array, t: number): number {
  const s = (k: number) => Math.sqrt((1 - abar[k]) / abar[k]);
  const i = Math.min(Math.max(Math.floor(t), 0), abar.length - 2);
  const f = Math.min(Math.max(t - i, 0), 1);
  return s(i) + f * (s(i + 1) - s(i));
}

function handleBase(name: string, kind: 'unet' | 'transformer', inputs: TensorInfo[], scheduler: SchedulerConfig, modelIndex: Record<string, unknown>) {
  return {
    key: `fake:${name}`,
    name,
    folder: `/fake/${name}`,
    modelIndex,
    scheduler,
    denoiserKind: kind,
    calls: 0,
    seen: [] as number[],
    inputs,
  };
}

/** A VP unet: eps, x0 or v of the Gaussian data at the level its timestep input names. */
export function fakeVpModel(
  p: GaussianParams,
  scheduler: SchedulerConfig = SD_VP_DDIM,
  opts: { timestepType?: 'int64' | 'float32'; batch?: number | string } = {},
): FakeModel {
  const abar = alphasCumprod(betasFromConfig(scheduler));
  const batch = opts.batch ?? 'batch';
  const inputs: TensorInfo[] = [
    { name: 'sample', type: 'float32', shape: [batch, ...p.dims] },
    { name: 'timestep', type: opts.timestepType ?? 'float32', shape: [1] },
  ];
  const base = handleBase('vp', 'unet', inputs, scheduler, { _class_name: 'StableDiffusionPipeline' });
  const model: FakeModel = {
    ...base,
    denoiser: {
      file: '/fake/vp/unet/model.onnx',
      provider: 'cpu',
      inputs,
      outputs: [{ name: 'out_sample', type: 'float32', shape: [batch, ...p.dims] }],
      async run(feeds) {
        model.onRun?.(model.calls);
        model.calls++;
        const t = feedNumber(feeds.timestep);
        model.seen.push(t);
        const x = toF64(feeds.sample);
        const s = tableSigma(abar, t);
        const alpha = 1 / Math.sqrt(s * s + 1);
        const sigma = s * alpha;
        let out: Float64Array;
        const type = scheduler.prediction_type ?? 'epsilon';
        if (type === 'epsilon') out = epsVP(p, x, alpha, sigma);
        else if (type === 'sample') out = denoisedVP(p, x, alpha, sigma);
        else {
          const eps = epsVP(p, x, alpha, sigma);
          const x0 = denoisedVP(p, x, alpha, sigma);
          out = eps.map((e, k) => alpha * e - sigma * x0[k]);
        }
        return { out_sample: new Tensor(feeds.sample.dims, Float32Array.from(out)) };
      },
    },
  };
  return model;
}

export const FLOW_MATCH_SHIFT3: SchedulerConfig = {
  _class_name: 'FlowMatchEulerDiscreteScheduler',
  num_train_timesteps: 1000,
  shift: 3.0,
};

/** A rectified-flow transformer predicting the velocity; `fraction` units take t = sigma, else sigma * 1000. */
export function fakeFlowModel(p: GaussianParams, scheduler: SchedulerConfig = FLOW_MATCH_SHIFT3, units: 'fraction' | 'scheduler' = 'fraction'): FakeModel {
  const inputs: TensorInfo[] = [
    { name: 'hidden_states', type: 'float32', shape: ['batch', ...p.dims] },
    { name: 'timestep', type: 'float32', shape: ['batch'] },
  ];
  const modelIndex = { _class_name: 'FlowStudioAnalyticPipeline', flowstudio: { timestep_units: units } };
  const base = handleBase('flow', 'transformer', inputs, scheduler, modelIndex);
  const model: FakeModel = {
    ...base,
    denoiser: {
      file: '/fake/flow/transformer/model.onnx',
      provider: 'cpu',
      inputs,
      outputs: [{ name: 'velocity', type: 'float32', shape: ['batch', ...p.dims] }],
      async run(feeds) {
        model.onRun?.(model.calls);
        model.calls++;
        const t = feedNumber(feeds.timestep);
        model.seen.push(t);
        const sigma = units === 'fraction' ? t : t / 1000;
        const v = velocityRF(p, toF64(feeds.hidden_states), sigma);
        return { velocity: new Tensor(feeds.hidden_states.dims, Float32Array.from(v)) };
      },
    },
  };
  return model;
}

/** The fake unet called as a diffusers pipeline calls it: the VP sample and the timestep; its raw output. */
export function rawModelFn(model: FakeModel, dims: readonly number[]): (x: Float64Array, t: number) => Promise<Float64Array> {
  return async (x, t) => {
    const out = await model.denoiser.run({
      sample: { dims: [...dims], data: Float32Array.from(x), type: 'float32' },
      timestep: { dims: [1], data: Float32Array.of(t), type: 'float32' },
    });
    return Float64Array.from(out.out_sample.data as Float32Array);
  };
}

export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Least-squares slope of log(err) against log(steps): -order for a convergent method. */
export function logLogSlope(steps: readonly number[], errors: readonly number[]): number {
  const xs = steps.map(Math.log);
  const ys = errors.map(Math.log);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

/** A DenoiseFn of the exact x0 of Gaussian data `p` in VE variables (no network, no timestep): pure-math solver tests. */
export function exactVeDenoiseFn(p: GaussianParams): DenoiseFn {
  return async (x, level) => {
    const s = level.sigma;
    const d = new Tensor(x.dims, Float32Array.from(denoisedVE(p, Float64Array.from(x.data), s)));
    const eps = new Tensor(x.dims, x.data.map((v, k) => (v - d.data[k]) / s));
    return { denoised: d, eps, derivative: eps };
  };
}
