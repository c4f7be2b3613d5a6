/**
 * Flow-matching parity with diffusers (@58eb52c): FlowMatchEulerDiscreteScheduler's __init__ / set_timesteps /
 * step / scale_noise, and the SD3 and FLUX pipelines around it (calculate_shift, retrieve_timesteps(sigmas, mu),
 * the timestep the transformer gets, img2img get_timesteps). The reference below is written from diffusers'
 * code with its dtypes emulated: __init__ in torch float32, set_timesteps' default path in numpy float64,
 * pipeline-given sigmas (FLUX) in numpy float32 (NumPy 2 scalar rules), the result cast to float32 and
 * timesteps = float32 sigmas * T in float32; step() in float32. It does not call the project's schedule code.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ModelHandle, SchedulerConfig } from '../nodes/core/values.ts';
import { createGaussianParams, sampleData, velocityRF } from '../nodes/sampling/gaussian.ts';
import { predictionFromOutput } from '../nodes/sampling/denoiser.ts';
import { createFlowEuler } from '../nodes/sampling/flow-euler.ts';
import { negatedFlowOutput, pipelineCfgNormalization, pipelineImageSeqLen, pipelineMuOptions, pipelineSigmaList, reversedFlowTime, sigmaSpace, timestepUnits } from '../nodes/sampling/model-time.ts';
import { flowImg2imgStartStep } from '../nodes/sampling/add-noise.ts';
import { flowMatchSigmas, flux2EmpiricalMu } from '../nodes/sampling/schedule-flow.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import type { DenoiseFn } from '../nodes/sampling/solver.ts';
import { paramDefaults } from '../nodes/core/params.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import { Sampler } from '../nodes/sampler.ts';
import { fakeFlowModel } from './sampling-fake-model.ts';
import { npLinspace } from './exp-solver-helpers.ts';

const f = Math.fround;


interface RefConfig {
  num_train_timesteps?: number;
  shift?: number;
  use_dynamic_shifting?: boolean;
  time_shift_type?: 'exponential' | 'linear';
  shift_terminal?: number;
  use_karras_sigmas?: boolean;
  use_exponential_sigmas?: boolean;
  sigma_min?: number;
  sigma_max?: number;
  base_image_seq_len?: number;
  max_image_seq_len?: number;
  base_shift?: number;
  max_shift?: number;
}

/** FlowMatchEulerDiscreteScheduler.__init__: sigma_max / sigma_min of the (shifted) float32 training table. */
function refInit(cfg: RefConfig): { sigmaMax: number; sigmaMin: number } {
  const T = cfg.num_train_timesteps ?? 1000;
  const shift = cfg.shift ?? 1;
  // timesteps = float32 linspace(1, T, T)[::-1]; sigmas = timesteps / T (float32); torch scalar ops cast the
  // Python float to float32: shift * s / (1 + (shift - 1) * s).
  const shifted = (s: number) => (cfg.use_dynamic_shifting ? s : f(f(f(shift) * s) / f(1 + f(f(shift - 1) * s))));
  return { sigmaMax: shifted(f(T / T)), sigmaMin: shifted(f(1 / T)) };
}

/** FlowMatchEulerDiscreteScheduler.set_timesteps(N, sigmas?, mu?): float32 sigmas (final 0 appended) and timesteps. */
function refSetTimesteps(cfg: RefConfig, n: number, opts: { sigmas?: number[]; mu?: number } = {}): { sigmas: number[]; timesteps: number[] } {
  const T = cfg.num_train_timesteps ?? 1000;
  const shift = cfg.shift ?? 1;
  let s: number[];
  let fp32: boolean;
  if (opts.sigmas) {
    // np.array(sigmas).astype(np.float32): numpy float32 from here on.
    s = opts.sigmas.map(f);
    fp32 = true;
  } else {
    const { sigmaMax, sigmaMin } = refInit(cfg);
    s = npLinspace(sigmaMax * T, sigmaMin * T, n).map((t) => t / T);
    fp32 = false;
  }
  const r = fp32 ? f : (x: number) => x;
  if (cfg.use_dynamic_shifting) {
    if (opts.mu === undefined) throw new Error('mu');
    const k = r((cfg.time_shift_type ?? 'exponential') === 'exponential' ? Math.exp(opts.mu) : opts.mu);
    // k / (k + (1 / t - 1) ** 1.0)
    s = s.map((t) => r(k / r(k + r(r(1 / t) - 1))));
  } else {
    s = s.map((t) => r(r(r(shift) * t) / r(1 + r(r(shift - 1) * t))));
  }
  if (cfg.shift_terminal) {
    const om = s.map((t) => r(1 - t));
    const scale = r(om[om.length - 1] / r(1 - cfg.shift_terminal));
    s = om.map((o) => r(1 - r(o / scale)));
  }
  if (cfg.use_karras_sigmas || cfg.use_exponential_sigmas) {
    const smin = cfg.sigma_min ?? s[s.length - 1];
    const smax = cfg.sigma_max ?? s[0];
    if (cfg.use_karras_sigmas) {
      const rho = 7;
      const ramp = npLinspace(0, 1, n);
      const minInv = smin ** (1 / rho);
      const maxInv = smax ** (1 / rho);
      s = ramp.map((x) => (maxInv + x * (minInv - maxInv)) ** rho);
    } else {
      s = npLinspace(Math.log(smax), Math.log(smin), n).map(Math.exp);
    }
  }
  const sig32 = s.map(f);
  return { sigmas: [...sig32, 0], timesteps: sig32.map((x) => f(x * T)) };
}

/** FLUX pipelines: calculate_shift(image_seq_len, base_seq_len, max_seq_len, base_shift, max_shift). */
function calculateShift(len: number, cfg: RefConfig): number {
  const baseLen = cfg.base_image_seq_len ?? 256;
  const maxLen = cfg.max_image_seq_len ?? 4096;
  const baseShift = cfg.base_shift ?? 0.5;
  const maxShift = cfg.max_shift ?? 1.15;
  const m = (maxShift - baseShift) / (maxLen - baseLen);
  const b = baseShift - m * baseLen;
  return len * m + b;
}

/** FluxPipeline: sigmas = np.linspace(1.0, 1 / N, N), mu from the packed latent's token count. */
function refFlux(cfg: RefConfig, n: number, seqLen: number) {
  return refSetTimesteps(cfg, n, { sigmas: npLinspace(1, 1 / n, n), mu: calculateShift(seqLen, cfg) });
}

/** The float32 value the transformer gets: FLUX timestep / 1000 (float32 division), SD3 the timestep itself. */
const fluxModelT = (t32: number) => f(t32 / 1000);

const SD3: SchedulerConfig = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0 };
const SD3_INDEX = { _class_name: 'StableDiffusion3Pipeline' };
const FLUX_DEV: SchedulerConfig = {
  _class_name: 'FlowMatchEulerDiscreteScheduler',
  num_train_timesteps: 1000,
  shift: 3.0,
  use_dynamic_shifting: true,
  base_image_seq_len: 256,
  max_image_seq_len: 4096,
  base_shift: 0.5,
  max_shift: 1.15,
};
const FLUX_INDEX = { _class_name: 'FluxPipeline' };

describe('FlowMatchEuler grids against a dtype-exact diffusers reference', () => {
  it('SD3 (static shift 3): the model timesteps are exactly diffusers\'; levels within float32 rounding', () => {
    for (const n of [1, 2, 4, 20, 28, 50]) {
      const ref = refSetTimesteps(SD3 as RefConfig, n);
      const s = buildSigmas(SD3, SD3_INDEX, n, 'euler');
      expect(s.timesteps).toEqual(ref.timesteps);
      expect(s.sigmas[n]).toBe(0);
      s.sigmas.forEach((x, i) => expect(Math.abs(x - ref.sigmas[i])).toBeLessThanOrEqual(6e-8 * Math.max(x, 1e-3)));
    }
  });

  it('static shifts that are not float32 numbers: __init__ shifts the table with float32 scalars (sigma_min, sigma_max)', () => {
    for (const shift of [0.1, 1.3, 2.2, 3.16, 9.9]) {
      const cfg = { ...SD3, shift };
      for (const n of [4, 28]) {
        const ref = refSetTimesteps(cfg as RefConfig, n);
        expect(buildSigmas(cfg, SD3_INDEX, n, 'euler').timesteps, `shift ${shift}, ${n} steps`).toEqual(ref.timesteps);
      }
    }
  });

  it('SD3 config with use_dynamic_shifting (mu given): the time shift on the unshifted table, float64 then float32', () => {
    const cfg = { ...FLUX_DEV };
    for (const type of ['exponential', 'linear'] as const) {
      const c = { ...cfg, time_shift_type: type };
      const mu = type === 'exponential' ? 0.83 : 2.4;
      const ref = refSetTimesteps(c as RefConfig, 28, { mu });
      const s = buildSigmas(c, SD3_INDEX, 28, 'euler', { mu });
      expect(s.timesteps).toEqual(ref.timesteps);
    }
  });

  it('FLUX: float32 sigmas linspace(1, 1/N, N) time-shifted in float32; the transformer gets float32 t / 1000', () => {
    for (const n of [1, 4, 8, 20, 28, 30, 50]) {
      for (const seqLen of [256, 1024, 1536, 2304, 4096, 6144]) {
        const ref = refFlux(FLUX_DEV as RefConfig, n, seqLen);
        const s = buildSigmas(FLUX_DEV, FLUX_INDEX, n, 'euler', { imageSeqLen: seqLen });
        expect(s.timesteps, `${n} steps, ${seqLen} tokens`).toEqual(ref.timesteps.map(fluxModelT));
        s.sigmas.forEach((x, i) => expect(Math.abs(x - ref.sigmas[i])).toBeLessThanOrEqual(1.5e-7)); // float32 arithmetic there
      }
    }
  });

  it('FLUX pipeline with a static-shift config (schnell shift 1, or shift 3 without dynamic shifting)', () => {
    for (const shift of [1, 3, 1.3]) {
      const cfg = { _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: false, shift };
      for (const n of [4, 28]) {
        const ref = refSetTimesteps(cfg as RefConfig, n, { sigmas: npLinspace(1, 1 / n, n), mu: calculateShift(4096, {}) });
        expect(buildSigmas(cfg, FLUX_INDEX, n, 'euler', { imageSeqLen: 4096 }).timesteps).toEqual(ref.timesteps.map(fluxModelT));
      }
    }
  });

  it('shift_terminal (LTX): stretched after the shift, before Karras; both paths', () => {
    const cfg = { ...SD3, shift_terminal: 0.1 };
    expect(buildSigmas(cfg, SD3_INDEX, 12, 'euler').timesteps).toEqual(refSetTimesteps(cfg as RefConfig, 12).timesteps);
    const dev = { ...FLUX_DEV, shift_terminal: 0.05 };
    expect(buildSigmas(dev, FLUX_INDEX, 12, 'euler', { imageSeqLen: 1024 }).timesteps).toEqual(refFlux(dev as RefConfig, 12, 1024).timesteps.map(fluxModelT));
    // One step is the single level t = 1, which it cannot stretch (diffusers: an IndexError): said plainly.
    expect(() => buildSigmas(cfg, SD3_INDEX, 1, 'euler')).toThrow(/at least 2 steps/);
  });

  it('Karras / exponential levels between the shifted ends, or the sigma_min / sigma_max keys a config carries', () => {
    for (const key of ['use_karras_sigmas', 'use_exponential_sigmas'] as const) {
      const cfg = { ...SD3, [key]: true };
      expect(buildSigmas(cfg, SD3_INDEX, 10, 'euler').timesteps).toEqual(refSetTimesteps(cfg as RefConfig, 10).timesteps);
      const dev = { ...FLUX_DEV, [key]: true };
      expect(buildSigmas(dev, FLUX_INDEX, 10, 'euler', { imageSeqLen: 4096 }).timesteps).toEqual(refFlux(dev as RefConfig, 10, 4096).timesteps.map(fluxModelT));
      // from_config keeps keys __init__ does not take (hidden config), and _convert_to_karras reads
      // self.config.sigma_min / sigma_max when present.
      const keyed = { ...cfg, sigma_min: 0.02, sigma_max: 0.9 };
      const ref = refSetTimesteps(keyed as RefConfig, 10);
      const s = buildSigmas(keyed, SD3_INDEX, 10, 'euler');
      expect(s.timesteps).toEqual(ref.timesteps);
      expect(s.sigmas[0]).toBeCloseTo(0.9, 7);
      expect(s.sigmas[9]).toBeCloseTo(0.02, 7);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Full loops through the Sampler node

const p = createGaussianParams({ dims: [64, 4], seed: 11 });
const DIMS = [1, 64, 4];

function fakeContext(): ExecContext {
  return fakeExecContext();
}

type Params = Parameters<typeof Sampler.execute>[2];
const defaults = paramDefaults(Sampler) as Params;

/** A velocity transformer under a real pipeline class (its units come from model_index.json, not an override). */
function pipelineModel(scheduler: SchedulerConfig, pipeline: string) {
  const fake = fakeFlowModel(p, scheduler, pipeline === 'FluxPipeline' ? 'fraction' : 'scheduler');
  const handle: ModelHandle = { ...fake, modelIndex: { _class_name: pipeline } };
  return { fake, handle };
}

function noiseTensor(seed: number): Tensor {
  return new Tensor(DIMS, Float32Array.from(sampleData(createGaussianParams({ dims: [64, 4], seed: 99 }), 1, seed).map((v, k) => (k % 2 ? v : -v))));
}

/** The diffusers loop: for t in timesteps: v = transformer(x, t_model); x = scheduler.step(v, t, x) (float32). */
function refLoop(ref: { sigmas: number[]; timesteps: number[] }, start: Float32Array, modelT: (t32: number) => number, from = 0) {
  let x = Float32Array.from(start);
  const seen: number[] = [];
  for (let i = from; i < ref.timesteps.length; i++) {
    const tm = modelT(ref.timesteps[i]);
    seen.push(tm);
    const sigmaOfT = modelT === fluxModelT ? tm : tm / 1000;
    const v = Float32Array.from(velocityRF(p, Float64Array.from(x), sigmaOfT));
    const dt = f(ref.sigmas[i + 1] - ref.sigmas[i]);
    x = x.map((xv, k) => f(xv + f(dt * v[k])));
  }
  return { x, seen };
}

describe('Sampler loops against the diffusers pipeline loop', () => {
  it('FluxPipeline (flow_euler): same model timesteps call by call, same result within float32 noise', async () => {
    const { fake, handle } = pipelineModel(FLUX_DEV, 'FluxPipeline');
    const noise = noiseTensor(1);
    const n = 12;
    const out = await Sampler.execute(
      fakeContext(),
      { model: handle, latent: Tensor.zeros(DIMS), noise, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined },
      { ...defaults, solver: 'auto', steps: n },
    );
    // latents = randn (no init_noise_sigma); image_seq_len = latents.shape[1] of the packed latent.
    const ref = refLoop(refFlux(FLUX_DEV as RefConfig, n, 64), noise.data, fluxModelT);
    expect(fake.seen).toEqual(ref.seen);
    const got = out.latent.data;
    let err = 0;
    for (let k = 0; k < got.length; k++) err = Math.max(err, Math.abs(got[k] - ref.x[k]));
    expect(err).toBeLessThan(2e-6);
  });

  it('StableDiffusion3Pipeline (flow_euler): t = sigma * 1000 in float32, call by call', async () => {
    const { fake, handle } = pipelineModel(SD3, 'StableDiffusion3Pipeline');
    const noise = noiseTensor(2);
    const out = await Sampler.execute(
      fakeContext(),
      { model: handle, latent: Tensor.zeros(DIMS), noise, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined },
      { ...defaults, solver: 'auto', steps: 10 },
    );
    const ref = refLoop(refSetTimesteps(SD3 as RefConfig, 10), noise.data, (t) => t);
    expect(fake.seen).toEqual(ref.seen);
    let err = 0;
    for (let k = 0; k < out.latent.size; k++) err = Math.max(err, Math.abs(out.latent.data[k] - ref.x[k]));
    expect(err).toBeLessThan(2e-6);
  });
});

// ---------------------------------------------------------------------------------------------
// img2img (SD3 / FLUX img2img pipelines)

/** SD3/FLUX img2img get_timesteps: init_timestep = min(N * strength, N) (a float); t_start = int(max(N - init_timestep, 0)). */
function refFlowStart(n: number, strength: number): number {
  const init = Math.min(n * strength, n);
  return Math.trunc(Math.max(n - init, 0));
}

describe('flow img2img start (StableDiffusion3Img2ImgPipeline, FluxImg2ImgPipeline)', () => {
  it('t_start = int(N - N * strength): the run takes ceil(N * strength) steps, not floor', () => {
    expect(flowImg2imgStartStep(28, 0.6)).toBe(11); // 16.8 -> 17 steps
    expect(flowImg2imgStartStep(25, 0.56)).toBe(10); // 25 * 0.56 = 14.000000000000002: int(10.999..) = 10, 15 steps
    for (const n of [1, 4, 10, 20, 28, 50]) {
      for (const s of [0, 0.05, 0.1, 0.25, 0.3, 0.33, 0.5, 0.6, 0.7, 0.75, 0.9, 0.95, 1]) {
        expect(flowImg2imgStartStep(n, s), `${n} steps, strength ${s}`).toBe(refFlowStart(n, s));
      }
    }
  });

  // img2imgSigmas takes ceil(N * strength) steps on flow grids (the VP pipelines floor it).
  it('Sampler img2img on a FLUX model: noise at sigmas[t_start] (scale_noise, float32), ceil(N * strength) steps', async () => {
    const { fake, handle } = pipelineModel(FLUX_DEV, 'FluxPipeline');
    const noise = noiseTensor(3);
    const x0 = noiseTensor(4);
    const n = 28;
    const strength = 0.6;
    const out = await Sampler.execute(
      fakeContext(),
      { model: handle, latent: x0, noise, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined },
      { ...defaults, solver: 'auto', steps: n, denoise: strength },
    );
    const ref = refFlux(FLUX_DEV as RefConfig, n, 64);
    const start = refFlowStart(n, strength);
    const s = ref.sigmas[start];
    // scale_noise: sigma * noise + (1 - sigma) * sample, float32.
    const init = x0.data.map((v, k) => f(f(s * noise.data[k]) + f(f(1 - s) * v)));
    const r = refLoop(ref, init, fluxModelT, start);
    expect(fake.seen).toEqual(r.seen);
    let err = 0;
    for (let k = 0; k < out.latent.size; k++) err = Math.max(err, Math.abs(out.latent.data[k] - r.x[k]));
    expect(err).toBeLessThan(2e-6);
  });
});

// ---------------------------------------------------------------------------------------------
// stochastic_sampling

describe('flow Euler stochastic_sampling (FlowMatchEulerDiscreteScheduler.step)', () => {
  it('x0 = x - sigma v; x_next = (1 - sigma_next) x0 + sigma_next z, one draw per step that uses it', async () => {
    const sigmas = { space: 'flow' as const, sigmas: [1, 0.6, 0.25, 0], timesteps: [1, 0.6, 0.25] };
    const draws = [noiseTensor(5), noiseTensor(6), noiseTensor(7)];
    let used = 0;
    const solver = createFlowEuler({ stochastic: true });
    const model: DenoiseFn = async (x, level) => {
      const v = new Tensor(x.dims, Float32Array.from(velocityRF(p, Float64Array.from(x.data), level.sigma)));
      return predictionFromOutput(v, x, level.sigma, 'flow', 'flow'); // the model wrapper's conversion
    };
    const ctx = { sigmas, noise: (dims: readonly number[]) => draws[used++].reshape(dims) };
    let state = solver.init(ctx, noiseTensor(8));
    for (let i = 0; i < 3; i++) state = await solver.step(ctx, state, i, model);
    expect(used).toBe(2); // the step to 0 multiplies its draw by 0 (diffusers draws it anyway: same slices)
    let x = noiseTensor(8).data;
    for (let i = 0; i < 3; i++) {
      const s = f(sigmas.sigmas[i]);
      const next = f(sigmas.sigmas[i + 1]);
      const v = Float32Array.from(velocityRF(p, Float64Array.from(x), sigmas.sigmas[i]));
      const z = i < 2 ? draws[i].data : new Float32Array(x.length);
      x = x.map((xv, k) => {
        const x0 = f(xv - f(s * v[k]));
        return f(f(f(1 - next) * x0) + f(next * z[k]));
      });
    }
    let err = 0;
    for (let k = 0; k < x.length; k++) err = Math.max(err, Math.abs(state.x.data[k] - x[k]));
    expect(err).toBeLessThan(1e-6);
  });
});

// ---------------------------------------------------------------------------------------------
// Pipeline conventions (model_index.json _class_name)

/** diffusers pipelines/flux2/pipeline_flux2.py compute_empirical_mu. */
function computeEmpiricalMu(len: number, numSteps: number): number {
  const [a1, b1] = [8.73809524e-5, 1.89833333];
  const [a2, b2] = [0.00016927, 0.45666666];
  if (len > 4300) return a2 * len + b2;
  const m200 = a2 * len + b2;
  const m10 = a1 * len + b1;
  const a = (m200 - m10) / 190.0;
  const b = m200 - 200.0 * a;
  return a * numSteps + b;
}

describe('pipeline conventions', () => {
  it('AuraFlowPipeline: the scheduler\'s own grid, the transformer gets float32 t / 1000', () => {
    const cfg = { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 1.73 };
    const s = buildSigmas(cfg, { _class_name: 'AuraFlowPipeline' }, 12, 'euler');
    expect(s.timesteps).toEqual(refSetTimesteps(cfg as RefConfig, 12).timesteps.map(fluxModelT));
  });

  it('Flux2Pipeline: mu = compute_empirical_mu(image_seq_len, N) with its sigmas', () => {
    const cfg = { ...FLUX_DEV };
    expect(pipelineMuOptions({ _class_name: 'Flux2Pipeline' }).muRule).toBe('flux2_empirical');
    expect(pipelineMuOptions({ _class_name: 'FluxPipeline' }).muRule).toBe('calculate_shift');
    for (const [len, n] of [[1024, 28], [4096, 50], [4608, 28], [256, 4]]) {
      expect(flux2EmpiricalMu(len, n)).toBe(computeEmpiricalMu(len, n));
      const ref = refSetTimesteps(cfg as RefConfig, n, { sigmas: npLinspace(1, 1 / n, n), mu: computeEmpiricalMu(len, n) });
      const s = flowMatchSigmas(cfg, n, 'fraction', { pipelineSigmas: 'numpy', imageSeqLen: len, muRule: 'flux2_empirical' });
      expect(s.timesteps).toEqual(ref.timesteps.map(fluxModelT));
    }
  });

  it('buildSigmas applies the pipeline\'s mu rule: a Flux2Pipeline folder gets compute_empirical_mu', () => {
    const n = 28;
    const len = 4096;
    const viaBuild = buildSigmas(FLUX_DEV, { _class_name: 'Flux2Pipeline' }, n, 'euler', { imageSeqLen: len });
    const direct = flowMatchSigmas(FLUX_DEV, n, 'fraction', { pipelineSigmas: 'numpy', imageSeqLen: len, muRule: 'flux2_empirical' });
    expect(viaBuild.timesteps).toEqual(direct.timesteps);
    const flux1 = buildSigmas(FLUX_DEV, { _class_name: 'FluxPipeline' }, n, 'euler', { imageSeqLen: len });
    expect(flux1.timesteps).not.toEqual(direct.timesteps);
  });

  it('Lumina2 and ZImage run the flow backwards (data-fraction timestep, negated output); SanaSprint takes the flow time itself', () => {
    for (const cls of ['Lumina2Pipeline', 'ZImagePipeline', 'ZImageImg2ImgPipeline']) {
      expect(timestepUnits({ _class_name: cls })).toBe('fraction');
      expect(reversedFlowTime({ _class_name: cls })).toBe(true);
      expect(sigmaSpace({ _class_name: cls }, { _class_name: 'FlowMatchEulerDiscreteScheduler' })).toBe('flow');
    }
    expect(reversedFlowTime({ _class_name: 'FluxPipeline' })).toBe(false);
    expect(reversedFlowTime({ _class_name: 'MyPipeline', flowstudio: { reversed_time: true } })).toBe(true);
    expect(reversedFlowTime({ _class_name: 'Lumina2Pipeline', flowstudio: { reversed_time: false } })).toBe(false);
    expect(() => reversedFlowTime({ flowstudio: { reversed_time: 'yes' } })).toThrow(/reversed_time must be true or false/);
    // Their sigma lists: numpy's linspace (Lumina2, like FLUX) or torch's float32 one (ZImage).
    expect(pipelineSigmaList({ _class_name: 'Lumina2Pipeline' })).toBe('numpy');
    expect(pipelineSigmaList({ _class_name: 'ZImagePipeline' })).toBe('torch');
    expect(pipelineSigmaList({ _class_name: 'StableDiffusion3Pipeline' })).toBeUndefined();
    // Lumina2Pipeline's mu reads latents.shape[1]: the channels of a [B, C, H, W] latent.
    expect(pipelineImageSeqLen({ _class_name: 'Lumina2Pipeline' }, [1, 16, 128, 128])).toBe(16);
    expect(pipelineImageSeqLen({ _class_name: 'ZImagePipeline' }, [1, 16, 128, 128])).toBe(4096);
    expect(pipelineImageSeqLen({ _class_name: 'FluxPipeline' }, [1, 4096, 64])).toBe(4096);
    expect(timestepUnits({ _class_name: 'SanaSprintPipeline' })).toBe('fraction');
    // The pipelines that renormalize their CFG output row by row (the CFG node's normalize auto follows them).
    for (const cls of ['Lumina2Pipeline', 'QwenImagePipeline', 'QwenImageEditPlusPipeline', 'NucleusMoEImagePipeline']) expect(pipelineCfgNormalization({ _class_name: cls })).toBe('rows');
    expect(pipelineCfgNormalization({ _class_name: 'LongCatImagePipeline' })).toBe('rows-down');
    for (const cls of ['FluxPipeline', 'ZImagePipeline', 'StableDiffusionXLPipeline']) expect(pipelineCfgNormalization({ _class_name: cls })).toBe('off');
    // Negated output alone (HiDream-style networks without the reversed time): NucleusMoE, or declared.
    expect(negatedFlowOutput({ _class_name: 'NucleusMoEImagePipeline' })).toBe(true);
    expect(reversedFlowTime({ _class_name: 'NucleusMoEImagePipeline' })).toBe(false);
    expect(negatedFlowOutput({ _class_name: 'MyPipeline', flowstudio: { negated_output: true } })).toBe(true);
    expect(negatedFlowOutput({ _class_name: 'MyPipeline', flowstudio: { reversed_time: true } })).toBe(true);
    // Declaring the time direction alone keeps a pipeline's own sign: HiDream negates without reversing.
    expect(negatedFlowOutput({ _class_name: 'HiDreamImagePipeline', flowstudio: { reversed_time: false } })).toBe(true);
    expect(sigmaSpace({ _class_name: 'SanaSprintPipeline' }, { _class_name: 'SCMScheduler' })).toBe('flow');
    expect(sigmaSpace({}, { _class_name: 'SCMScheduler' })).toBe('flow');
    expect(timestepUnits({ _class_name: 'Lumina2Pipeline', flowstudio: { timestep_units: 'fraction' } })).toBe('fraction');
  });
});

describe('pipeline conventions of the newer FLUX-kind pipelines (model-time.ts PIPELINES)', () => {
  // diffusers calculate_shift, written out: mu = len (maxS - baseS)/(maxL - baseL) + baseS - baseL (maxS - baseS)/(maxL - baseL).
  const calcShift = (len: number, baseL: number, maxL: number, baseS: number, maxS: number) => {
    const m = (maxS - baseS) / (maxL - baseL);
    return len * m + baseS - m * baseL;
  };
  const DYN = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, use_dynamic_shifting: true };

  it("Krea2's max_image_seq_len fallback 6400 never reaches FlowMatch Euler (its config registers 4096), and a distilled Krea2 (is_distilled) fixes mu at 1.15", () => {
    const grid = buildSigmas(DYN, { _class_name: 'Krea2Pipeline' }, 3, 'euler', { imageSeqLen: 1024 }) as { sigmas: number[] };
    // The exponential time shift adds mu to the logit of each level: mu = logit(shifted) - logit(given), given = 2/3 here.
    const given = 2 / 3;
    const mu = (g: { sigmas: number[] }) => Math.log(g.sigmas[1] / (1 - g.sigmas[1])) - Math.log(given / (1 - given));
    expect(mu(grid)).toBeCloseTo(calcShift(1024, 256, 4096, 0.5, 1.15), 5);
    expect(mu(buildSigmas({ ...DYN, max_image_seq_len: 6400 }, { _class_name: 'Krea2Pipeline' }, 3, 'euler', { imageSeqLen: 1024 }))).toBeCloseTo(calcShift(1024, 256, 6400, 0.5, 1.15), 5);
    expect(mu(buildSigmas(DYN, { _class_name: 'FluxPipeline' }, 3, 'euler', { imageSeqLen: 1024 }))).toBeCloseTo(calcShift(1024, 256, 4096, 0.5, 1.15), 5);
    expect(mu(buildSigmas(DYN, { _class_name: 'Krea2Pipeline', is_distilled: true }, 3, 'euler', { imageSeqLen: 1024 }))).toBeCloseTo(1.15, 5);
  });

  it('HiDream: the scheduler timestep, the output negated, mu 1.15 (calculate_shift of the transformer max_seq 4096)', () => {
    const hidream = { _class_name: 'HiDreamImagePipeline' };
    expect(timestepUnits(hidream)).toBe('scheduler');
    expect(negatedFlowOutput(hidream)).toBe(true);
    expect(reversedFlowTime(hidream)).toBe(false);
    expect(pipelineMuOptions(hidream).fixedMu).toBeCloseTo(calcShift(4096, 256, 4096, 0.5, 1.15), 12);
    // Its own scheduler grid (no pipeline sigma list): a FlowMatch config with dynamic shifting at that mu.
    const grid = buildSigmas(DYN, hidream, 4, 'euler', { imageSeqLen: 64 });
    expect(grid).toEqual(buildSigmas(DYN, {}, 4, 'euler', { mu: 1.15 }));
  });

  it('CogView4: sigmas int(linspace(1000, 1, N)) / 1000, linear shift by mu = sqrt(tokens / 256) 0.75 + 0.25, t = sigma * 1000', () => {
    const cfg = { ...DYN, time_shift_type: 'linear', base_shift: 0.25, max_shift: 0.75 };
    const n = 7;
    const grid = buildSigmas(cfg, { _class_name: 'CogView4Pipeline' }, n, 'euler', { imageSeqLen: 1024 });
    const mu = Math.sqrt(1024 / 256) * 0.75 + 0.25;
    // linspace(1000, 1, 7) = 1000, 833.5, 667, 500.5, 334, 167.5, 1, truncated; linear time shift mu / (mu + 1/s - 1).
    const given = [1000, 833, 667, 500, 334, 167, 1].map((t) => t / 1000);
    given.forEach((s, i) => expect(grid.sigmas[i]).toBeCloseTo(mu / (mu + 1 / s - 1), 6));
    expect(grid.sigmas[n]).toBe(0);
    grid.timesteps.forEach((t, i) => expect(t).toBeCloseTo(grid.sigmas[i] * 1000, 3));
  });

  it('HunyuanImage 2.1: t = sigma * 1000 on numpy linspace(1, 0, N + 1)[:-1] with the static shift; its refiner is refused', () => {
    const index = { _class_name: 'HunyuanImagePipeline' };
    expect(timestepUnits(index)).toBe('scheduler');
    expect(pipelineSigmaList(index)).toBe('numpy-open');
    const cfg = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 5.0, use_dynamic_shifting: false };
    const n = 7;
    const grid = flowMatchSigmas(cfg, n, 'scheduler', { pipelineSigmas: 'numpy-open' });
    // 1 - k/7 (k = 0..6), shifted: 5 s / (1 + 4 s); then 0.
    for (let k = 0; k < n; k++) {
      const s = 1 - k / n;
      expect(grid.sigmas[k]).toBeCloseTo((5 * s) / (1 + 4 * s), 6);
    }
    expect(grid.sigmas[n]).toBe(0);
    grid.timesteps.forEach((t, i) => expect(t).toBeCloseTo(grid.sigmas[i] * 1000, 3));
    expect(() => timestepUnits({ _class_name: 'HunyuanImageRefinerPipeline' })).toThrow(/HunyuanImageRefinerPipeline is not supported: it feeds the transformer the latent joined/);
  });

  it('LongCat-Image and Ovis-Image: the FLUX kind (t/1000, numpy linspace with calculate_shift)', () => {
    expect(timestepUnits({ _class_name: 'LongCatImagePipeline' })).toBe('fraction');
    expect(pipelineSigmaList({ _class_name: 'OvisImagePipeline' })).toBe('numpy');
  });

  it('refuses pipelines whose loops no convention here reproduces, naming the reason; a declared convention overrides', () => {
    expect(() => timestepUnits({ _class_name: 'GlmImagePipeline' })).toThrow(/GlmImagePipeline is not supported: it feeds the transformer t - 1/);
    expect(() => timestepUnits({ _class_name: 'LuminaPipeline' })).toThrow(/Lumina-Next/);
    // Prefix neighbours of supported pipelines that run other loops.
    expect(() => timestepUnits({ _class_name: 'QwenImageLayeredPipeline' })).toThrow(/QwenImageLayeredPipeline is not supported: it walks linspace\(1, 0, N \+ 1\)/);
    expect(timestepUnits({ _class_name: 'QwenImageEditPlusPipeline' })).toBe('fraction');
    expect(() => timestepUnits({ _class_name: 'DreamLiteMobilePipeline' })).toThrow(/side by side with a condition image/);
    const declared = { _class_name: 'GlmImagePipeline', flowstudio: { timestep_units: 'scheduler', negated_output: true } };
    expect(timestepUnits(declared)).toBe('scheduler');
    expect(negatedFlowOutput(declared)).toBe(true);
    expect(() => timestepUnits({ flowstudio: { timestep_units: 'seconds' } })).toThrow(/must be "fraction" or "scheduler"/);
  });
});

describe('negated-output and reversed-time networks through the Sampler', () => {
  const p = createGaussianParams({ dims: [2, 4, 4], seed: 8 });
  const dims = [1, 2, 4, 4];
  const noise = new Tensor(dims, Float32Array.from({ length: 32 }, (_, k) => Math.cos(k + 2)));
  const cfg = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0 };
  const run = (model: ModelHandle) =>
    Sampler.execute(
      fakeExecContext(),
      { model, latent: Tensor.zeros(dims), noise, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined },
      { ...(paramDefaults(Sampler) as Parameters<typeof Sampler.execute>[2]), solver: 'dpmpp_2m', steps: 7 },
    );

  /** The exact flow model re-wired to another convention: fed `timeOf(t)`, answering `sign` x velocity. */
  function rewired(convention: Record<string, unknown>, timeOf: (fed: number) => number, sign: number): ModelHandle {
    const base = fakeFlowModel(p, cfg, 'fraction');
    return {
      ...base,
      modelIndex: { _class_name: 'MyPipeline', flowstudio: { timestep_units: 'fraction', ...convention } },
      denoiser: {
        ...base.denoiser,
        async run(feeds) {
          const t = timeOf(Number(feeds.timestep.data[0]));
          const v = velocityRF(p, Float64Array.from(feeds.hidden_states.data as Float32Array), t);
          return { velocity: new Tensor(feeds.hidden_states.dims, Float32Array.from(v, (x) => sign * x)) };
        },
      },
    };
  }

  it('negated_output: a network answering x0 - noise samples to the same latent as the plain one', async () => {
    const plain = await run(fakeFlowModel(p, cfg, 'fraction'));
    const negated = await run(rewired({ negated_output: true }, (t) => t, -1));
    expect(Array.from(negated.latent.data)).toEqual(Array.from(plain.latent.data));
    // Not declared: the sign flips the flow and the run goes elsewhere.
    const wrong = await run(rewired({}, (t) => t, -1));
    expect(Array.from(wrong.latent.data)).not.toEqual(Array.from(plain.latent.data));
  });

  it('reversed_time: the network is fed 1 - t (and answers x0 - noise); the run is the plain one', async () => {
    const plain = await run(fakeFlowModel(p, cfg, 'fraction'));
    const reversed = await run(rewired({ reversed_time: true }, (fed) => 1 - fed, -1));
    const a = Array.from(reversed.latent.data);
    const b = Array.from(plain.latent.data);
    a.forEach((v, k) => expect(v).toBeCloseTo(b[k], 5));
  });
});

describe('stochastic_sampling through the Sampler', () => {
  it('a FlowMatchEuler config with stochastic_sampling re-noises each step from the seed; without it the run ignores the seed after the start', async () => {
    const p = createGaussianParams({ dims: [2, 4, 4], seed: 3 });
    const cfg = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0, stochastic_sampling: true };
    const dims = [1, 2, 4, 4];
    const noise = new Tensor(dims, Float32Array.from({ length: 32 }, (_, k) => Math.sin(k + 1)));
    const ctx = fakeExecContext();
    const run = (scheduler: SchedulerConfig, seed: number) =>
      Sampler.execute(
        ctx,
        { model: fakeFlowModel(p, scheduler), latent: Tensor.zeros(dims), noise, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined },
        { ...(paramDefaults(Sampler) as Parameters<typeof Sampler.execute>[2]), solver: 'flow_euler', steps: 6, seed },
      );
    const a = await run(cfg, 1);
    const b = await run(cfg, 2);
    expect([...a.latent.data]).not.toEqual([...b.latent.data]);
    const plain = { ...cfg, stochastic_sampling: false };
    expect([...(await run(plain, 1)).latent.data]).toEqual([...(await run(plain, 2)).latent.data]);
  });
});
