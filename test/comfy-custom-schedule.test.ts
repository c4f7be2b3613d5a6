/**
 * ComfyUI's stand-alone schedulers (comfy-sigma-curves.ts) against closed forms and the defining
 * properties of each curve, and the Schedule (ComfyUI custom) node around them. Level-by-level agreement
 * with ComfyUI's own node code is in test/comfyui-parity.test.ts (the curve cases).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import type { ModelHandle, SchedulerConfig } from '../nodes/core/values.ts';
import { ComfyCustomSchedule } from '../nodes/comfy-custom-schedule.ts';
import { AYS_NOISE_LEVELS, OSS_NOISE_LEVELS, alignYourSteps, optimalSteps, betaSamplingLevels, exponentialCurve, gitsLevels, karrasCurve, laplaceCurve, loglinearInterp, manualSigmas, polyexponentialCurve, sdTurboLevels, vpCurve } from '../nodes/sampling/comfy-sigma-curves.ts';
import { COMFY_SAMPLERS, comfyModelSampling, comfyRunGrid } from '../nodes/sampling/comfy-schedules.ts';
import { GITS_NOISE_LEVELS } from '../nodes/sampling/gits-noise-levels.ts';
import { createTestEngine, graph } from './helpers/engine.ts';

const SD = { _class_name: 'EulerDiscreteScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 };
const SD3 = { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3.0 };
const FLUX = { _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: true, base_shift: 0.5, max_shift: 1.15 };
const ctx = {} as ExecContext;
/** float32 rounding of torch's arithmetic, a few ulps. */
const F32_RTOL = 1e-6;

function close(a: number, b: number, rtol = F32_RTOL): void {
  expect(Math.abs(a - b), `${a} vs ${b}`).toBeLessThanOrEqual(rtol * Math.abs(b) + 1e-12);
}

describe('formula curves over a sigma range', () => {
  it('karras: sigma^(1/rho) falls linearly from sigma_max to sigma_min, then 0', () => {
    const [lo, hi, rho] = [0.03, 14.6, 7];
    const s = karrasCurve(8, lo, hi, rho);
    expect(s).toHaveLength(9);
    expect(s[8]).toBe(0);
    for (let i = 0; i < 8; i++) close(s[i], (hi ** (1 / rho) + (i / 7) * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho, 4e-6);
  });

  it('exponential: uniform in log sigma; polyexponential at rho 1 is the same curve and at rho 2 follows ramp^2', () => {
    const [lo, hi] = [0.03, 14.6];
    const e = exponentialCurve(6, lo, hi);
    for (let i = 0; i < 6; i++) close(e[i], Math.exp(Math.log(hi) + (i / 5) * (Math.log(lo) - Math.log(hi))), 2e-6);
    const p1 = polyexponentialCurve(6, lo, hi, 1);
    p1.forEach((v, i) => close(v, e[i] || 0, 2e-6));
    const p2 = polyexponentialCurve(6, lo, hi, 2);
    for (let i = 0; i < 6; i++) close(p2[i], Math.exp(Math.log(lo) + (1 - i / 5) ** 2 * (Math.log(hi) - Math.log(lo))), 2e-6);
    expect(p2[6]).toBe(0);
  });

  it('laplace: log sigma is the Laplace quantile, symmetric about mu, clamped to the range, with no final 0', () => {
    const s = laplaceCurve(9, 0.01, 50, 0, 0.5);
    expect(s).toHaveLength(9);
    // mu = 0: the curve is odd in log sigma about x = 0.5, so levels pair up to product 1 (inside the clamp).
    for (let i = 1; i < 8; i++) close(s[i] * s[8 - i], 1, 4e-6);
    expect(s[4]).toBe(1);
    for (let i = 0; i < 9; i++) {
      const x = i / 8;
      const want = Math.min(Math.max(Math.exp(-0.5 * Math.sign(0.5 - x) * Math.log(1 - 2 * Math.abs(0.5 - x) + 1e-5)), 0.01), 50);
      close(s[i], want, 4e-6);
    }
    // The ends hit the clamp: exp(0.5 * 11.5) = 316 > 50.
    expect(s[0]).toBe(Math.fround(50));
    expect(s[8]).toBe(Math.fround(0.01));
    // mu moves the centre: at x = 0.5 the level is e^mu.
    close(laplaceCurve(9, 0.01, 50, 1, 0.5)[4], Math.E, 1e-7);
  });

  it('vp: the continuous VP SDE sigma at t = 1 and t = eps_s (closed-form literals), then 0', () => {
    const s = vpCurve(5, 19.9, 0.1, 1e-3);
    close(s[0], 152.16697028394637, 2e-6);
    close(s[4], 0.010485992786702987, 2e-6);
    expect(s[5]).toBe(0);
    for (let i = 1; i < 5; i++) expect(s[i]).toBeLessThan(s[i - 1]);
  });

  it('refuses ranges and shapes the formulas cannot take', () => {
    expect(() => karrasCurve(5, 1, 0.5, 7)).toThrow(/sigma_min < sigma_max/);
    expect(() => exponentialCurve(5, 0, 1)).toThrow(/0 < sigma_min/);
    expect(() => laplaceCurve(5, 0.1, 1, 0, 0)).toThrow(/beta must be positive/);
    expect(() => vpCurve(5, 19.9, 0.1, 0)).toThrow(/eps_s/);
    expect(() => karrasCurve(0, 0.1, 1, 7)).toThrow(/positive integer/);
  });
});

describe('tabled schedules: Align Your Steps and GITS', () => {
  it('log-linear resampling keeps the knots and puts geometric means between them', () => {
    const knots = [10, 4, 1, 0.2];
    const r = loglinearInterp(knots, 7);
    for (let k = 0; k < 4; k++) close(r[2 * k], knots[k], 1e-12);
    for (let k = 0; k < 3; k++) close(r[2 * k + 1], Math.sqrt(knots[k] * knots[k + 1]), 1e-12);
  });

  it('AYS at 10 steps is the published table in float32 with a final 0; at 20 steps the table is every other level', () => {
    for (const type of ['SD1', 'SDXL', 'SVD'] as const) {
      const table = AYS_NOISE_LEVELS[type];
      const ten = alignYourSteps(type, 10, 1);
      expect(ten).toEqual([...table.slice(0, 10).map(Math.fround), 0]);
      const twenty = alignYourSteps(type, 20, 1);
      expect(twenty).toHaveLength(21);
      for (let k = 0; k < 10; k++) close(twenty[2 * k], table[k], 1e-7);
      for (let k = 0; k < 9; k++) close(twenty[2 * k + 1], Math.sqrt(table[k] * table[k + 1]), 1e-7);
      expect(twenty[20]).toBe(0);
    }
  });

  it('denoise keeps the last round(steps * denoise) steps, half to even as Python rounds', () => {
    const full = alignYourSteps('SD1', 10, 1);
    expect(alignYourSteps('SD1', 10, 0.5)).toEqual([...full.slice(5, 10), 0]);
    // round(2.5) = 2 in Python: 3 levels, the last of them 0.
    const five = alignYourSteps('SD1', 5, 1);
    expect(alignYourSteps('SD1', 5, 0.5)).toEqual([...five.slice(3, 5), 0]);
    expect(alignYourSteps('SD1', 10, 0)).toEqual([]);
    expect(alignYourSteps('SD1', 10, 0.04)).toEqual([0]);
  });

  it('GITS: a table per coefficient 0.80 .. 1.50 with steps + 1 levels for 2 .. 20 steps, from sigma_max to sigma_min', () => {
    const coeffs = Object.keys(GITS_NOISE_LEVELS);
    expect(coeffs).toEqual(Array.from({ length: 15 }, (_, i) => (0.8 + 0.05 * i).toFixed(2)));
    for (const c of coeffs) {
      const rows = GITS_NOISE_LEVELS[c];
      expect(rows).toHaveLength(19);
      rows.forEach((row, k) => {
        expect(row).toHaveLength(k + 3);
        expect(row[0]).toBe(14.61464119);
        expect(row[row.length - 1]).toBe(0.02916753);
        for (let i = 1; i < row.length; i++) expect(row[i]).toBeLessThan(row[i - 1]);
      });
    }
    const g = gitsLevels(1.2, 10, 1);
    expect(g).toEqual([...GITS_NOISE_LEVELS['1.20'][8].slice(0, 10).map(Math.fround), 0]);
    // Above 20 steps: the 20-step levels resampled log-linearly (40 steps: every other level is a knot).
    const forty = gitsLevels(1.2, 40, 1);
    const last = GITS_NOISE_LEVELS['1.20'][18];
    for (let k = 0; k < 20; k++) close(forty[2 * k], last[k], 1e-7);
  });

  it('Optimal Steps: FLUX at 10, Wan at 20 and Chroma at 40 steps are the searched flow levels; other counts resample them', () => {
    for (const [type, n] of [['FLUX', 10], ['Wan', 20], ['Chroma', 40]] as const) {
      const table = OSS_NOISE_LEVELS[type];
      expect(table).toHaveLength(n + 1);
      expect(optimalSteps(type, n, 1)).toEqual([...table.slice(0, n).map(Math.fround), 0]);
    }
    const flux20 = optimalSteps('FLUX', 20, 1);
    for (let k = 0; k < 10; k++) close(flux20[2 * k], OSS_NOISE_LEVELS.FLUX[k], 1e-7);
    expect(() => optimalSteps('FLUX', 2, 1)).toThrow(/at least 3 steps/);
    expect(optimalSteps('Wan', 20, 0.5)).toEqual([...OSS_NOISE_LEVELS.Wan.slice(10, 20).map(Math.fround), 0]);
  });

  it('GITS refuses coefficients off its grid and fewer than 2 steps', () => {
    expect(() => gitsLevels(1.23, 10, 1)).toThrow(/coeff 0.80, 0.85/);
    expect(() => gitsLevels(1.2, 1, 1)).toThrow(/at least 2 steps/);
    expect(gitsLevels(1.1, 4, 1)).toEqual([...GITS_NOISE_LEVELS['1.10'][2].slice(0, 4).map(Math.fround), 0]);
  });
});

describe('model-table schedules: SD Turbo and beta sampling', () => {
  const ms = comfyModelSampling(SD, 'vp');

  it('sd_turbo takes the levels of training steps 999, 899, ... from the step denoise puts first', () => {
    const s = sdTurboLevels(ms, 4, 1);
    expect(s).toHaveLength(5);
    [999, 899, 799, 699].forEach((t, i) => close(s[i], ms.table[t], 1e-6));
    expect(s[4]).toBe(0);
    // denoise 0.5: start at step 10 - int(5) = 5, timestep 499.
    const half = sdTurboLevels(ms, 2, 0.5);
    close(half[0], ms.table[499], 1e-6);
    close(half[1], ms.table[399], 1e-6);
    expect(() => sdTurboLevels(ms, 11, 1)).toThrow(/1 to 10 steps/);
    // denoise 0.05: int(0.5) = 0 leaves no timesteps: only the final 0.
    expect(sdTurboLevels(ms, 3, 0.05)).toEqual([0]);
  });

  it('beta sampling at alpha = beta = 1 (the uniform distribution) takes training steps rint((1 - i/N) 999)', () => {
    // Quantiles of Beta(1, 1) are the identity: 999, 749.25 -> 749, 499.5 -> 500 (half to even), 249.75 -> 250.
    expect(betaSamplingLevels(ms, 4, 1, 1)).toEqual([ms.table[999], ms.table[749], ms.table[500], ms.table[250], 0]);
    // A repeated training step is taken once (Beta(0.6, 0.6) is dense at both ends).
    const dense = betaSamplingLevels(ms, 400, 0.6, 0.6);
    expect(new Set(dense).size).toBe(dense.length);
    expect(() => betaSamplingLevels(ms, 4, 0, 1)).toThrow(/alpha > 0/);
    // alpha = beta: the middle quantile is exactly 1/2, 499.5 training steps, which rounds to the even 500.
    for (const ab of [2, 0.6, 3.7]) expect(betaSamplingLevels(ms, 60, ab, ab)[30]).toBe(ms.table[500]);
  });
});

function handle(scheduler: SchedulerConfig, modelIndex: Record<string, unknown> = { _class_name: 'StableDiffusionPipeline' }): ModelHandle {
  return { key: 'm', name: 'm', folder: '/m', modelIndex, scheduler, denoiserKind: 'unet', denoiser: undefined as never };
}
type Params = Parameters<typeof ComfyCustomSchedule.execute>[2];
const DEFAULTS: Params = {
  curve: 'align_your_steps', steps: 10, denoise: 1, model_type: 'SD1', oss_model_type: 'FLUX', coeff: 1.2, sigma_max: 14.614642, sigma_min: 0.0291675, rho: 7, poly_rho: 1,
  mu: 0, laplace_beta: 0.5, beta_d: 19.9, beta_min: 0.1, eps_s: 0.001, alpha: 0.6, beta: 0.6, sigma_list: '1, 0.5',
};
const run = async (model: ModelHandle, params: Partial<Params>, latent?: Tensor) => (await ComfyCustomSchedule.execute(ctx, { model, latent }, { ...DEFAULTS, ...params })).sigmas;

describe('Schedule (ComfyUI custom) node', () => {
  const ms = comfyModelSampling(SD, 'vp');

  it('gives each level its nearest training step and KSampler\'s start noise scale', async () => {
    const s = await run(handle(SD), {});
    expect(s.sigmas).toEqual(alignYourSteps('SD1', 10, 1));
    expect(s.timesteps).toEqual(s.sigmas.slice(0, -1).map((v) => ms.timestep(v)));
    expect(s.timesteps[0]).toBe(999);
    expect(s.timesteps.every((t, i) => Number.isInteger(t) && (i === 0 || t < s.timesteps[i - 1]))).toBe(true);
    // The first level is the table's top: max_denoise, so the noise is scaled by sqrt(1 + sigma^2).
    close(s.initNoiseSigma!, Math.sqrt(1 + s.sigmas[0] ** 2), 1e-9);
    // SVD's levels start far above SD's sigma_max: the same rule (sigma > sigma_max) and the top training step.
    const svd = await run(handle(SD), { model_type: 'SVD' });
    expect(svd.timesteps[0]).toBe(999);
    close(svd.initNoiseSigma!, Math.sqrt(1 + 700 ** 2), 1e-9);
  });

  it('a Laplace run ends at its last level; the Sampler then applies uni_pc\'s 0.001 end and dpm_fast\'s own grid to these levels', async () => {
    const lap = await run(handle(SD), { curve: 'laplace', steps: 6 });
    expect(lap.sigmas).toHaveLength(6);
    expect(lap.sigmas[5]).toBeGreaterThan(0);
    const karras = await run(handle(SD), { curve: 'karras', steps: 6 });
    expect(karras.sigmas[6]).toBe(0);
    const uni = comfyRunGrid(ms, 'unipc', karras, 'scheduler');
    expect(uni.sigmas).toEqual([...karras.sigmas.slice(0, 6), 0.001]);
    const fast = comfyRunGrid(ms, 'dpm_fast', await run(handle(SD), { curve: 'exponential', steps: 6 }), 'scheduler');
    expect(fast.stepOrders).toEqual([3, 2, 1]);
  });


  it('manual (ManualSigmas): the typed levels in order, float32, read by ComfyUI\'s pattern; too few, negative or flow levels above 1 are refused', async () => {
    expect(manualSigmas('14.6, 7;3 | .5 0')).toEqual([14.6, 7, 3, 0.5, 0].map(Math.fround));
    expect(manualSigmas('+2, -.5')).toEqual([2, -0.5]);
    // No exponents in its pattern: 1e-3 is the numbers 1 and -3; a match Python's float refuses is an error.
    expect(manualSigmas('1e-3')).toEqual([1, -3]);
    expect(() => manualSigmas('1..5, 0')).toThrow(/not a number/);
    expect(manualSigmas('none')).toEqual([]);
    const s = await run(handle(SD), { curve: 'manual', sigma_list: '10, 4, 1, 0' });
    expect(s.sigmas).toEqual([10, 4, 1, 0]);
    expect(s.timesteps).toEqual([10, 4, 1].map((v) => ms.timestep(v)));
    // Below the table's top: KSampler scales the start noise by the level itself.
    expect(s.initNoiseSigma).toBe(10);
    await expect(run(handle(SD), { curve: 'manual', sigma_list: '7' })).rejects.toThrow(/at least 2/);
    await expect(run(handle(SD), { curve: 'manual', sigma_list: '1e-3, 0' })).rejects.toThrow(/level -3/);
    await expect(run(handle(SD3, { _class_name: 'StableDiffusion3Pipeline' }), { curve: 'manual', sigma_list: '1.5, 0.5, 0' })).rejects.toThrow(/t in \[0, 1\]/);
    expect((await run(handle(SD3, { _class_name: 'StableDiffusion3Pipeline' }), { curve: 'manual', sigma_list: '1, 0.5, 0' })).timesteps[1]).toBeCloseTo(500, 3);
  });

  it('on flow models: range curves in t, sd_turbo on a static-shift table; SD-family tables and t > 1 are refused', async () => {
    const k = await run(handle(SD3, { _class_name: 'StableDiffusion3Pipeline' }), { curve: 'karras', sigma_max: 1, sigma_min: 0.002, steps: 5 });
    expect(k.space).toBe('flow');
    close(k.sigmas[0], 1, 1e-7);
    const turbo = await run(handle(SD3, { _class_name: 'StableDiffusion3Pipeline' }), { curve: 'sd_turbo', steps: 2 });
    const flow = comfyModelSampling(SD3, 'flow');
    expect(turbo.sigmas).toEqual([flow.sigma(999), flow.sigma(899), 0]);
    await expect(run(handle(SD3, { _class_name: 'StableDiffusion3Pipeline' }), {})).rejects.toThrow(/VE sigmas of SD-family/);
    // Optimal Steps' flow levels on a FLUX table (its shift from the latent) get ComfyUI's FLUX timesteps: t itself, as FLUX pipelines take it.
    const fluxLatent = Tensor.zeros([1, 16, 128, 128]);
    const oss = await run(handle(FLUX, { _class_name: 'FluxPipeline' }), { curve: 'optimal_steps', steps: 10 }, fluxLatent);
    expect(oss.sigmas).toEqual(optimalSteps('FLUX', 10, 1));
    oss.timesteps.forEach((t, i) => close(t, oss.sigmas[i], 1e-6));
    await expect(run(handle(SD), { curve: 'optimal_steps' })).rejects.toThrow(/flow times t of FLUX/);
    await expect(run(handle(SD3, { _class_name: 'StableDiffusion3Pipeline' }), { curve: 'karras' })).rejects.toThrow(/sigma_max to at most 1/);
    // Laplace ends above 0, where ComfyUI rescales a flow result: not offered there.
    await expect(run(handle(SD3, { _class_name: 'StableDiffusion3Pipeline' }), { curve: 'laplace', sigma_max: 1, sigma_min: 0.01 })).rejects.toThrow(/VP models only/);
    const latent = Tensor.zeros([1, 16, 64, 64]);
    await expect(run(handle(FLUX, { _class_name: 'FluxPipeline' }), { curve: 'sd_turbo', steps: 2 }, latent)).rejects.toThrow(/FLUX-type/);
    await expect(run(handle(FLUX, { _class_name: 'FluxPipeline' }), { curve: 'exponential', sigma_max: 1, sigma_min: 0.01 })).rejects.toThrow(/connect a latent/);
  });

  it('names the cause when no steps are left or a setting is out of range', async () => {
    await expect(run(handle(SD), { denoise: 0 })).rejects.toThrow(/leaves no steps/);
    await expect(run(handle(SD), { curve: 'gits', coeff: 1.23 })).rejects.toThrow(/GITS has tables/);
    await expect(run(handle(SD), { curve: 'karras', sigma_min: 20 })).rejects.toThrow(/sigma_min < sigma_max/);
    await expect(run(handle(SD), { curve: 'laplace', steps: 1 })).rejects.toThrow(/at least 2 steps/);
  });
});

describe('Schedule (ComfyUI custom) in a graph', () => {
  const engine = createTestEngine();
  afterAll(() => engine.dispose());
  const nodes = (schedule: { type: string; params: Record<string, string | number> }) =>
    graph(
      [
        { id: 'model', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' } },
        { id: 'latent', type: 'EmptyLatent', params: { batch: 1 } },
        { id: 'schedule', ...schedule },
        { id: 'sampler', type: 'Sampler', params: { solver: 'dpmpp_2m', seed: 7, noise_generator: 'comfyui' } },
      ],
      ['model.model->schedule.model', 'model.model->sampler.model', 'latent.latent->sampler.latent', 'schedule.sigmas->sampler.sigmas'],
    );
  const latentOf = async (doc: ReturnType<typeof graph>) => {
    const { result } = await engine.execute({ graph: doc });
    expect(result?.status, result?.error?.message).toBe('finished');
    return result!.outputs.get('sampler')!.latent as Tensor;
  };

  it('a graph that still sets the retired sampler param runs as before: the Sampler applies that sampler\'s rules for its solver', async () => {
    const params = { curve: 'karras', steps: 6 };
    const withUnipc = (schedule: Record<string, string | number>) => {
      const doc = nodes({ type: 'ComfyCustomSchedule', params: schedule });
      const sampler = doc.nodes.find((n) => n.id === 'sampler')!;
      sampler.params = { ...sampler.params, ...COMFY_SAMPLERS.uni_pc.params, solver: COMFY_SAMPLERS.uni_pc.solver };
      return doc;
    };
    const old = await latentOf(withUnipc({ ...params, sampler: 'uni_pc' }));
    expect(Array.from(old.data)).toEqual(Array.from((await latentOf(withUnipc(params))).data));
    // A param the node never had is still an error.
    expect((await engine.run({ graph: nodes({ type: 'ComfyCustomSchedule', params: { ...params, bogus: 1 } }) })).status).toBe('invalid');
  });

  it('KarrasScheduler over the model\'s own sigma range runs exactly as the KSampler\'s karras scheduler', async () => {
    const ms = comfyModelSampling(SD, 'vp');
    const custom = await latentOf(nodes({ type: 'ComfyCustomSchedule', params: { curve: 'karras', steps: 8, sigma_max: ms.sigmaMax, sigma_min: ms.sigmaMin, rho: 7 } }));
    const ksampler = await latentOf(nodes({ type: 'ComfySchedule', params: { scheduler: 'karras', steps: 8 } }));
    expect(Array.from(custom.data)).toEqual(Array.from(ksampler.data));
    // A different curve gives a different run (the schedule reaches the Sampler).
    const ays = await latentOf(nodes({ type: 'ComfyCustomSchedule', params: { curve: 'align_your_steps', steps: 8 } }));
    expect(Array.from(ays.data)).not.toEqual(Array.from(ksampler.data));
    expect(ays.data.every(Number.isFinite)).toBe(true);
  });
});
