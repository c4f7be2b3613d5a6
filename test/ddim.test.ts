import { describe, expect, it } from 'vitest';
import { thresholdSampleRef } from './exp-solver-helpers.ts';
import { paramDefaults } from '../nodes/core/params.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import type { SchedulerConfig, Sigmas } from '../nodes/core/values.ts';
import { Sampler } from '../nodes/sampler.ts';
import { alphasCumprod, betasFromConfig } from '../nodes/sampling/betas.ts';
import { onnxImg2imgStart } from '../nodes/sampling/add-noise.ts';
import { createDdim, ddimOptionsFromConfig, limitDenoised } from '../nodes/sampling/ddim.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { createFlowEuler } from '../nodes/sampling/flow-euler.ts';
import { createGaussianParams, seededNormals, transportExact } from '../nodes/sampling/gaussian.ts';
import type { NoiseSource } from '../nodes/sampling/ops.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { fakeFlowModel, fakeVpModel, logLogSlope, relL2, SD_VP_DDIM, type FakeModel } from './sampling-fake-model.ts';

const DIMS = [1, 3, 8, 8];
const p = createGaussianParams({ dims: [3, 8, 8], seed: 5 });
const start = Float32Array.from(seededNormals(192, 11));
const STEPS = [10, 20, 40, 80, 160];

/** Keeps the steps whose end level is >= minSigma (the whole grid for minSigma 0). */
function truncate(s: Sigmas, minSigma: number): Sigmas {
  let k = s.timesteps.length;
  while (s.sigmas[k] < minSigma) k--;
  return { ...s, sigmas: s.sigmas.slice(0, k + 1), timesteps: s.timesteps.slice(0, k), targets: s.targets?.slice(0, k) };
}

/** Runs DDIM from the VP sample `xvp` at the grid's first level; returns the VP sample at its last level. */
async function ddimVp(model: FakeModel, sigmas: Sigmas, xvp: Float32Array, eta = 0, noise?: NoiseSource): Promise<Float32Array> {
  const s0 = sigmas.sigmas[0];
  const sEnd = sigmas.sigmas[sigmas.sigmas.length - 1];
  const x = new Tensor(DIMS, xvp.map((v) => v * Math.sqrt(s0 * s0 + 1)));
  const solver = createDdim({ ...ddimOptionsFromConfig(model.scheduler), eta });
  const r = await runSampler({ solver, sigmas, x, model: createDenoiseFn(model, { space: 'vp' }), noise });
  return r.x.data.map((v) => v / Math.sqrt(sEnd * sEnd + 1));
}

/** Global error of DDIM against the exact PF-ODE transport between each run's own first and last level. */
async function ddimErrors(minSigma: number): Promise<number[]> {
  const errors: number[] = [];
  for (const n of STEPS) {
    const model = fakeVpModel(p);
    const sigmas = truncate(buildSigmas(SD_VP_DDIM, model.modelIndex, n, 'ddim'), minSigma);
    const out = await ddimVp(model, sigmas, start);
    const [a, b] = [sigmas.sigmas[0], sigmas.sigmas[sigmas.sigmas.length - 1]].map((s) => 1 / Math.sqrt(s * s + 1));
    const sa = Math.sqrt(1 - a * a);
    const sb = Math.sqrt(1 - b * b);
    errors.push(relL2(out, transportExact(p, Float64Array.from(start), a, sa, b, sb)));
  }
  return errors;
}

describe('DDIM convergence on Gaussian data (embedded VP config: scaled_linear, leading, steps_offset 1)', () => {
  it('is first order measured to a level >= 0.3', async () => {
    // The VP grids are uniform in t and sigma(t) ~ sqrt(t) near t = 0, so the last steps shrink only like
    // N^-1/2 against the data's smallest scale sqrt(l_min) = 0.1: over 10..160 steps that tail is still
    // pre-asymptotic. Stopping at the last grid level >= 0.3 measures the method, not the grid's tail.
    const errors = await ddimErrors(0.3);
    const slope = logLogSlope(STEPS, errors);
    expect(Math.abs(-slope - 1)).toBeLessThan(0.15);
    expect(errors[4]).toBeLessThan(errors[0] / 8);
  });

  it('is first order to its own final level (abar[0]) within the fact sheet tolerance', async () => {
    const errors = await ddimErrors(0);
    const slope = logLogSlope(STEPS, errors);
    // Measured ~0.88 here (the tail effect above); the last doubling is close to 2.
    expect(Math.abs(-slope - 1)).toBeLessThan(0.15);
    expect(errors[3] / errors[4]).toBeGreaterThan(1.8);
  });
});

/**
 * diffusers DDIMScheduler.step written out in VP variables, float64 state, with the model called exactly as
 * the pipeline does (VP sample, integer timestep). Timesteps come from the spacing rule computed here.
 */
async function diffusersDdimReference(
  model: FakeModel,
  cfg: SchedulerConfig,
  timesteps: number[],
  xvp: Float32Array,
  eta: number,
  draws: Float32Array[],
): Promise<Float64Array> {
  const abar = alphasCumprod(betasFromConfig(cfg));
  const finalAbar = cfg.set_alpha_to_one === false ? abar[0] : 1;
  const jump = Math.floor(1000 / timesteps.length);
  let x = Float64Array.from(xvp);
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    const prev = t - jump;
    const at = abar[t];
    const ap = prev >= 0 ? abar[prev] : finalAbar;
    const out = await model.denoiser.run({
      sample: { dims: DIMS, data: Float32Array.from(x), type: 'float32' },
      timestep: { dims: [1], data: Float32Array.of(t), type: 'float32' },
    });
    const m = out.out_sample.data;
    const type = cfg.prediction_type ?? 'epsilon';
    const x0 = new Float64Array(x.length);
    const eps = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) {
      if (type === 'epsilon') {
        eps[k] = m[k];
        x0[k] = (x[k] - Math.sqrt(1 - at) * m[k]) / Math.sqrt(at);
      } else {
        x0[k] = Math.sqrt(at) * x[k] - Math.sqrt(1 - at) * m[k];
        eps[k] = Math.sqrt(at) * m[k] + Math.sqrt(1 - at) * x[k];
      }
    }
    const variance = ((1 - ap) / (1 - at)) * (1 - at / ap);
    const std = eta * Math.sqrt(variance);
    const next = new Float64Array(x.length);
    for (let k = 0; k < x.length; k++) {
      next[k] = Math.sqrt(ap) * x0[k] + Math.sqrt(1 - ap - std * std) * eps[k] + (eta > 0 ? std * draws[i][k] : 0);
    }
    x = next;
  }
  return x;
}

function noiseList(n: number, seed: number): { draws: Float32Array[]; source: NoiseSource } {
  const draws = Array.from({ length: n }, (_, i) => Float32Array.from(seededNormals(192, seed + i)));
  let next = 0;
  return { draws, source: (dims) => new Tensor(dims, draws[next++].slice()) };
}

describe('DDIM matches diffusers DDIMScheduler (VP-state reference)', () => {
  const cases: { name: string; cfg: SchedulerConfig; steps: number; timesteps: number[]; eta: number }[] = [
    // linspace: round(linspace(0, 999, 7)) reversed; every step goes to t - 142, not to the next grid value.
    { name: 'linspace, eps, eta 0', cfg: { ...SD_VP_DDIM, timestep_spacing: 'linspace' }, steps: 7, timesteps: [999, 832, 666, 500, 333, 166, 0], eta: 0 },
    {
      name: 'trailing, v-prediction, set_alpha_to_one, eta 0.7',
      cfg: { ...SD_VP_DDIM, timestep_spacing: 'trailing', prediction_type: 'v_prediction', set_alpha_to_one: true },
      steps: 8,
      timesteps: [999, 874, 749, 624, 499, 374, 249, 124],
      eta: 0.7,
    },
    { name: 'leading, eps, eta 1', cfg: SD_VP_DDIM, steps: 10, timesteps: [901, 801, 701, 601, 501, 401, 301, 201, 101, 1], eta: 1 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const model = fakeVpModel(p, c.cfg);
      const sigmas = buildSigmas(c.cfg, model.modelIndex, c.steps, 'ddim');
      expect(sigmas.timesteps).toEqual(c.timesteps);
      const mine = noiseList(c.steps, 100);
      const ours = await ddimVp(model, sigmas, start, c.eta, mine.source);
      const ref = await diffusersDdimReference(fakeVpModel(p, c.cfg), c.cfg, c.timesteps, start, c.eta, mine.draws);
      expect(relL2(ours, ref)).toBeLessThan(2e-6);
      // The model saw the same integer timesteps diffusers passes.
      expect(model.seen).toEqual(c.timesteps);
    });
  }
});

describe('DDIM details', () => {
  it('clip_sample clamps x0; thresholding scales by the per-sample quantile', () => {
    const x0 = Tensor.from([2, 3], [-3, -0.5, 0.2, 1.5, 2, 0.1]);
    expect([...limitDenoised(x0, { clipSampleRange: 1 }).data]).toEqual([-1, -0.5, 0.2, 1, 1, 0.1].map(Math.fround));
    // Sample 0: |x| = 3, 0.5, 0.2 -> the 50% quantile is 0.5, clamped up to 1: plain clamp to [-1, 1].
    // Sample 1: |x| = 1.5, 2, 0.1 -> quantile 1.5, under sample_max_value 1.8: clamp to 1.5 and divide.
    const t = limitDenoised(x0, { thresholding: { ratio: 0.5, maxValue: 1.8 } });
    const expected = [-1, -0.5, 0.2, 1, 1, 0.1 / 1.5].map(Math.fround);
    t.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    expect(ddimOptionsFromConfig({}).clipSampleRange).toBe(1); // DDIMScheduler's default clip_sample: true
    expect(ddimOptionsFromConfig({ clip_sample: false }).clipSampleRange).toBeUndefined();
    // from_config keeps the class default for keys a config lacks, whichever class wrote it; not on flow configs.
    expect(ddimOptionsFromConfig({ _class_name: 'EulerDiscreteScheduler' }).clipSampleRange).toBe(1);
    expect(ddimOptionsFromConfig({ _class_name: 'FlowMatchEulerDiscreteScheduler' }).clipSampleRange).toBeUndefined();
    expect(ddimOptionsFromConfig({ _class_name: 'DDPMScheduler', clip_sample_range: 2 }).clipSampleRange).toBe(2);
  });

  it('on a flow model DDIM is flow-matching Euler; eta > 0 there is an error', async () => {
    const model = fakeFlowModel(p);
    const sigmas = buildSigmas(model.scheduler, model.modelIndex, 12, 'ddim');
    const x = new Tensor(DIMS, start.slice());
    const fn = createDenoiseFn(model, { space: 'flow' });
    const a = await runSampler({ solver: createDdim(), sigmas, x, model: fn });
    const b = await runSampler({ solver: createFlowEuler(), sigmas, x, model: fn });
    expect([...a.x.data]).toEqual([...b.x.data]);
    expect(() => createDdim({ eta: 0.5 }).init({ sigmas }, x)).toThrow(/flow model/);
  });

  it('eta > 0 needs a noise source; negative eta is refused', () => {
    const sigmas = buildSigmas(SD_VP_DDIM, {}, 5, 'ddim');
    const x = new Tensor(DIMS);
    expect(() => createDdim({ eta: 0.5 }).init({ sigmas }, x)).toThrow(/noise source/);
    expect(() => createDdim({ eta: -1 })).toThrow(/eta/);
  });
});

// ---------------------------------------------------------------------------------------------
// Whole pipeline runs through the Sampler node against diffusers written out independently: the training
// table, set_timesteps, init_noise_sigma, every prediction type, clip_sample / thresholding (eps kept, as
// use_clipped_model_output=False), eta noise, and img2img (StableDiffusionImg2ImgPipeline.get_timesteps + add_noise).

/** DDIMScheduler.__init__ (linear / scaled_linear) and set_timesteps, written from diffusers' code. */
function diffusersDdimSchedule(cfg: SchedulerConfig, n: number): { abar: Float64Array; timesteps: number[] } {
  const T = (cfg.num_train_timesteps as number) ?? 1000;
  const b0 = (cfg.beta_start as number) ?? 0.0001;
  const b1 = (cfg.beta_end as number) ?? 0.02;
  const lin = (a: number, b: number, k: number) => Array.from({ length: k }, (_, i) => (i === k - 1 ? b : a + (i * (b - a)) / (k - 1)));
  const betas = cfg.beta_schedule === 'scaled_linear' ? lin(Math.sqrt(b0), Math.sqrt(b1), T).map((v) => v * v) : lin(b0, b1, T);
  const abar = new Float64Array(T);
  betas.reduce((acc, b, i) => (abar[i] = acc * (1 - b)), 1);
  const npRound = (v: number) => (Math.abs(v - Math.trunc(v)) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));
  const spacing = cfg.timestep_spacing ?? 'leading';
  let timesteps: number[];
  if (spacing === 'linspace') timesteps = Array.from({ length: n }, (_, i) => npRound(n === 1 ? 0 : i * ((T - 1) / (n - 1)))).reverse();
  else if (spacing === 'leading') timesteps = Array.from({ length: n }, (_, i) => i * Math.floor(T / n) + ((cfg.steps_offset as number) ?? 0)).reverse();
  else timesteps = Array.from({ length: n }, (_, i) => npRound(T - i * (T / n)) - 1);
  return { abar, timesteps };
}

/** The pipeline loop with DDIMScheduler.step, float64, from `latents` over `timesteps` (N = the full grid's length). */
async function diffusersPipeline(
  model: FakeModel,
  cfg: SchedulerConfig,
  abar: Float64Array,
  n: number,
  timesteps: number[],
  latents: Float64Array,
  eta: number,
  draws: Float32Array[],
): Promise<{ x: Float64Array; limited: boolean }> {
  const finalAbar = cfg.set_alpha_to_one === false ? abar[0] : 1;
  const T = abar.length;
  let x = latents;
  let limited = false;
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    const prev = t - Math.floor(T / n);
    const at = abar[t];
    const bt = 1 - at;
    const ap = prev >= 0 ? abar[prev] : finalAbar;
    const out = await model.denoiser.run({
      sample: { dims: DIMS, data: Float32Array.from(x), type: 'float32' },
      timestep: { dims: [1], data: Float32Array.of(t), type: 'float32' },
    });
    const m = Float64Array.from(out.out_sample.data as Float32Array);
    let x0: Float64Array;
    let eps: Float64Array;
    const type = cfg.prediction_type ?? 'epsilon';
    if (type === 'epsilon') {
      x0 = x.map((v, k) => (v - Math.sqrt(bt) * m[k]) / Math.sqrt(at));
      eps = m;
    } else if (type === 'sample') {
      x0 = m;
      eps = x.map((v, k) => (v - Math.sqrt(at) * m[k]) / Math.sqrt(bt));
    } else {
      x0 = x.map((v, k) => Math.sqrt(at) * v - Math.sqrt(bt) * m[k]);
      eps = x.map((v, k) => Math.sqrt(at) * m[k] + Math.sqrt(bt) * v);
    }
    const before = x0;
    if (cfg.thresholding === true) {
      x0 = thresholdSampleRef(x0, (cfg.dynamic_thresholding_ratio as number) ?? 0.995, (cfg.sample_max_value as number) ?? 1);
    } else if (cfg.clip_sample !== false) {
      const r = (cfg.clip_sample_range as number) ?? 1;
      x0 = x0.map((v) => Math.min(Math.max(v, -r), r));
    }
    if (x0.some((v, k) => Math.abs(v - before[k]) > 1e-3)) limited = true;
    const variance = ((1 - ap) / bt) * (1 - at / ap);
    const std = eta * Math.sqrt(variance);
    x = x0.map((v, k) => Math.sqrt(ap) * v + Math.sqrt(1 - ap - std * std) * eps[k] + (eta > 0 ? std * draws[i][k] : 0));
  }
  return { x, limited };
}

function samplerContext(): ExecContext {
  return fakeExecContext();
}

type SamplerParams = Parameters<typeof Sampler.execute>[2];

describe('Sampler with solver ddim equals the diffusers pipeline loop (independent reference)', () => {
  const cases: { name: string; cfg: SchedulerConfig; steps: number; eta: number; strength?: number; limited?: boolean; onnx?: boolean }[] = [
    {
      name: 'sample prediction, clip_sample 0.3, set_alpha_to_one, leading without offset, eta 0.5',
      cfg: { ...SD_VP_DDIM, prediction_type: 'sample', clip_sample: true, clip_sample_range: 0.3, set_alpha_to_one: true, steps_offset: 0 },
      steps: 9,
      eta: 0.5,
      limited: true,
    },
    {
      name: 'eps, class-default clip_sample (absent key), dynamic thresholding 0.9 / 1.15, linspace',
      cfg: { ...SD_VP_DDIM, clip_sample: undefined, thresholding: true, dynamic_thresholding_ratio: 0.9, sample_max_value: 1.15, timestep_spacing: 'linspace' },
      steps: 6,
      eta: 0,
      limited: true,
    },
    {
      // T//N = 142 and the last trailing timestep is 142: the run ends on abar[0] even with set_alpha_to_one.
      name: 'v-prediction, trailing 7 steps ending on abar[0], set_alpha_to_one',
      cfg: { ...SD_VP_DDIM, prediction_type: 'v_prediction', timestep_spacing: 'trailing', set_alpha_to_one: true },
      steps: 7,
      eta: 0,
    },
    { name: 'img2img strength 0.55, leading, steps_offset 1, eta 1', cfg: SD_VP_DDIM, steps: 10, eta: 1, strength: 0.55 },
    // OnnxStableDiffusionImg2ImgPipeline: init = min(int(N s) + offset, N), noise at timesteps[-init], loop from N - init + offset.
    { name: 'legacy ONNX img2img pipeline, strength 0.6, steps_offset 1: noise one level above the first step', cfg: SD_VP_DDIM, steps: 10, eta: 0, strength: 0.6, onnx: true },
    { name: 'legacy ONNX img2img pipeline, strength 1: the first step is skipped', cfg: SD_VP_DDIM, steps: 8, eta: 0.3, strength: 1, onnx: true },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { abar, timesteps: full } = diffusersDdimSchedule(c.cfg, c.steps);
      // get_timesteps: init_timestep = min(int(N * strength), N); t_start = max(N - init_timestep, 0).
      const strength = c.strength ?? 1;
      const offset = c.onnx ? Number(c.cfg.steps_offset ?? 0) : 0;
      const init = Math.min(Math.floor(c.steps * strength) + offset, c.steps);
      const tStart = Math.max(c.steps - init + offset, 0);
      const timesteps = full.slice(tStart);
      const noisedAt = c.onnx ? full[init === 0 ? 0 : c.steps - init] : timesteps[0];
      const noise = Array.from({ length: timesteps.length + 1 }, (_, k) => Float32Array.from(seededNormals(192, 300 + k)));
      const image = Float32Array.from(seededNormals(192, 77), (v) => 0.4 * v + 0.1);
      // init_noise_sigma = 1; img2img: add_noise(image, noise, timesteps[0]) (the legacy ONNX pipeline: its own level).
      const a0 = abar[noisedAt];
      const latents = c.strength === undefined ? Float64Array.from(noise[0]) : Float64Array.from(image, (v, k) => Math.sqrt(a0) * v + Math.sqrt(1 - a0) * noise[0][k]);
      const ref = await diffusersPipeline(fakeVpModel(p, c.cfg), c.cfg, abar, c.steps, timesteps, latents, c.eta, noise.slice(1));
      if (c.limited) expect(ref.limited).toBe(true);

      const model = fakeVpModel(p, c.cfg);
      const noiseInput = new Tensor([noise.length, ...DIMS]);
      noise.forEach((z, k) => noiseInput.data.set(z, k * 192));
      const params = {
        ...(paramDefaults(Sampler) as SamplerParams),
        solver: 'ddim',
        steps: c.steps,
        eta: c.eta,
        start: c.strength === undefined ? 'noise' : 'img2img',
        denoise: strength,
        img2img_rule: c.onnx ? 'diffusers-onnx' : 'diffusers',
      } as SamplerParams;
      const latentIn = c.strength === undefined ? Tensor.zeros(DIMS) : new Tensor(DIMS, image.slice());
      const r = await Sampler.execute(
        samplerContext(),
        { model, latent: latentIn, noise: noiseInput, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined },
        params,
      );
      expect(model.seen).toEqual(timesteps);
      expect(relL2(r.latent.data, ref.x)).toBeLessThan(5e-6);
    });
  }
});

describe('legacy ONNX img2img rule', () => {
  it('is refused for Heun (that pipeline starts it between stages) and for flow models', async () => {
    const params = { ...(paramDefaults(Sampler) as SamplerParams), solver: 'heun', steps: 6, start: 'img2img', denoise: 0.5, img2img_rule: 'diffusers-onnx' } as SamplerParams;
    const inputs = { model: fakeVpModel(p, SD_VP_DDIM), latent: Tensor.zeros(DIMS), noise: undefined, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined };
    await expect(Sampler.execute(samplerContext(), inputs, params)).rejects.toThrow(/not offered for Heun/);
    expect(onnxImg2imgStart(10, 0.6, 1)).toEqual({ start: 4, noiseAt: 3 });
    expect(onnxImg2imgStart(10, 0, 0)).toEqual({ start: 10, noiseAt: 0 }); // Python's timesteps[-0] is the first
  });
});
