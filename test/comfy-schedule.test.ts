/**
 * The Schedule (ComfyUI) node and the pieces around it: what its SIGMAS carry, the Sampler's use of them
 * (ComfyUI's off-grid timesteps, its start noise), and LMS's ComfyUI step onto 0. Level-by-level agreement
 * with ComfyUI's own code is test/comfyui-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import type { ModelHandle, SchedulerConfig } from '../nodes/core/values.ts';
import { ComfySchedule } from '../nodes/comfy-schedule.ts';
import { createDefaultRegistry } from '../nodes/index.ts';
import { COMFY_SAMPLERS, comfyLevels, comfyModelSampling, comfyRunGrid, comfySigmas, comfyTimestepAt, kSamplerLevels } from '../nodes/sampling/comfy-schedules.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { createGaussianParams, seededNormals } from '../nodes/sampling/gaussian.ts';
import { createLms } from '../nodes/sampling/lms.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { sliceSigmas } from '../nodes/sampling/sigmas-split.ts';
import { fakeVpModel } from './sampling-fake-model.ts';

const SD = { _class_name: 'EulerDiscreteScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 };
const FLUX = { _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: true, base_shift: 0.5, max_shift: 1.15 };
const ctx = {} as ExecContext;

function handle(scheduler: SchedulerConfig, modelIndex: Record<string, unknown> = { _class_name: 'StableDiffusionPipeline' }): ModelHandle {
  return { key: 'm', name: 'm', folder: '/m', modelIndex, scheduler, denoiserKind: 'unet', denoiser: undefined as never };
}
type Params = Parameters<typeof ComfySchedule.execute>[2];
const DEFAULTS: Params = { scheduler: 'normal', steps: 20, denoise: 1, sampler: 'euler' };
const run = async (model: ModelHandle, params: Partial<Params>, latent?: Tensor) => (await ComfySchedule.execute(ctx, { model, latent }, { ...DEFAULTS, ...params })).sigmas;

describe('ComfyUI model sampling (SD 1.x table)', () => {
  const ms = comfyModelSampling(SD, 'vp');

  it('keeps the training sigmas in float32: sigma_max 14.6146, sigma_min 0.0292', () => {
    expect(ms.table.length).toBe(1000);
    expect(ms.sigmaMax).toBeCloseTo(14.6146, 4);
    expect(ms.sigmaMin).toBeCloseTo(0.029168, 5);
    expect(ms.table.every((v) => Math.fround(v) === v)).toBe(true);
  });

  it('maps a level to its nearest training step, and a training step back to its level', () => {
    for (const t of [0, 1, 250, 999]) expect(ms.timestep(ms.table[t])).toBe(t);
    expect(ms.timestep(ms.table[400] * 1.0005)).toBe(400);
    expect(ms.sigma(400)).toBeCloseTo(ms.table[400], 5);
    // Halfway in t is the geometric mean of the neighbours (interpolation in log sigma).
    expect(ms.sigma(400.5)).toBeCloseTo(Math.sqrt(ms.table[400] * ms.table[401]), 5);
  });

  it('simple takes every (1000 / N)-th training level from the top; karras spans the table ends', () => {
    const simple = comfyLevels(ms, 'simple', 4);
    expect(simple).toEqual([ms.table[999], ms.table[749], ms.table[499], ms.table[249], 0]);
    const karras = comfyLevels(ms, 'karras', 5);
    expect(karras[0]).toBeCloseTo(ms.sigmaMax, 5);
    expect(karras[4]).toBeCloseTo(ms.sigmaMin, 6);
    expect(karras[5]).toBe(0);
  });

  it('KSampler rules: denoise keeps the last steps + 1 levels of int(steps / denoise); samplers like dpm_2 drop the second-to-last level', () => {
    const full = comfyLevels(ms, 'normal', 25);
    expect(kSamplerLevels(ms, 'normal', 10, { denoise: 0.4 })).toEqual(full.slice(-11));
    const plus = comfyLevels(ms, 'normal', 11);
    expect(kSamplerLevels(ms, 'normal', 10, { discardPenultimate: true })).toEqual([...plus.slice(0, -2), 0]);
    expect(kSamplerLevels(ms, 'normal', 10, { denoise: 0 })).toEqual([]);
  });
});

describe('Schedule (ComfyUI) node', () => {
  it('is registered, and its SIGMAS carry nearest-step timesteps, ComfyUI off-grid timesteps and the start scale', async () => {
    expect(createDefaultRegistry().get('ComfySchedule')).toBe(ComfySchedule);
    const s = await run(handle(SD), { scheduler: 'karras', steps: 8 });
    expect(s.sigmas.length).toBe(9);
    expect(s.timesteps[0]).toBe(999);
    expect(s.timesteps.every(Number.isInteger)).toBe(true);
    expect(s.offGridTimesteps).toBe('comfyui');
    expect(s.origin).toBe('ComfyUI karras');
    // A full schedule starts from sqrt(1 + sigma_max^2) noise (KSampler's max_denoise), a cut one from sigma.
    expect(s.initNoiseSigma).toBeCloseTo(Math.sqrt(1 + s.sigmas[0] ** 2), 10);
    const cut = await run(handle(SD), { scheduler: 'karras', steps: 8, denoise: 0.5 });
    expect(cut.initNoiseSigma).toBe(cut.sigmas[0]);
    // SplitSigmas keeps the rule on both parts.
    expect(sliceSigmas(s, 3, 8).offGridTimesteps).toBe('comfyui');
  });

  it('flow models: timesteps are t * 1000; FLUX needs a latent for its shift, and names the port', async () => {
    const sd3 = await run(handle({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 }, { _class_name: 'StableDiffusion3Pipeline' }), { scheduler: 'simple', steps: 4 });
    expect(sd3.space).toBe('flow');
    expect(sd3.sigmas[0]).toBe(1);
    sd3.timesteps.forEach((t, k) => expect(t).toBeCloseTo(sd3.sigmas[k] * 1000, 3));
    const fluxModel = handle(FLUX, { _class_name: 'FluxPipeline' });
    await expect(run(fluxModel, { steps: 4 })).rejects.toMatchObject({ port: 'latent' });
    const small = await run(fluxModel, { steps: 4, scheduler: 'simple' }, new Tensor([1, 16, 32, 32]));
    const large = await run(fluxModel, { steps: 4, scheduler: 'simple' }, new Tensor([1, 16, 128, 128]));
    // A larger image shifts the levels up (mu grows with the token count); FLUX pipelines take t / 1000.
    expect(large.sigmas[2]).toBeGreaterThan(small.sigmas[2]);
    expect(small.timesteps[1]).toBeCloseTo(small.sigmas[1], 6);
  });

  it('SDE samplers on flow models: the first level moves off t = 1 to percent_to_sigma(1e-4), the start scale and the tree range stay', async () => {
    const sd3Config = { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 };
    const sd3 = handle(sd3Config, { _class_name: 'StableDiffusion3Pipeline' });
    const plain = await run(sd3, { scheduler: 'simple', steps: 6 });
    const flowMs = comfyModelSampling(sd3Config, 'flow');
    const sde = comfyRunGrid(flowMs, 'dpmpp_2m_sde', plain, 'scheduler');
    // time_snr_shift(3, 1 - 1e-4) = 3 * 0.9999 / (1 + 2 * 0.9999), as a float32.
    expect(sde.sigmas[0]).toBe(Math.fround((3 * 0.9999) / (1 + 2 * 0.9999)));
    expect(sde.sigmas.slice(1)).toEqual(plain.sigmas.slice(1));
    expect(sde.timesteps[0]).toBeCloseTo(sde.sigmas[0] * 1000, 3);
    expect(sde.initNoiseSigma).toBe(plain.initNoiseSigma);
    expect(sde.comfyNoiseRange).toEqual([Math.min(...plain.sigmas.filter((v) => v > 0)), 1]);
    // A head of the grid (SplitSigmas' high part, starting at t = 1) moves too; a tail, below 1, keeps its levels.
    expect(comfyRunGrid(flowMs, 'dpmpp_2m_sde', sliceSigmas(plain, 0, 2), 'scheduler').comfyNoiseRange).toEqual([plain.sigmas[2], 1]);
    const tail = sliceSigmas(plain, 2, 6);
    expect(comfyRunGrid(flowMs, 'dpmpp_2m_sde', tail, 'scheduler')).toBe(tail);
    // Not for the ODE samplers, nor on VP models.
    expect(comfyRunGrid(flowMs, 'dpmpp_2m', plain, 'scheduler')).toBe(plain);
    const vp = await run(handle(SD), { scheduler: 'karras', steps: 6 });
    expect(comfyRunGrid(comfyModelSampling(SD, 'vp'), 'dpmpp_2m_sde', vp, 'scheduler')).toBe(vp);
    // A part with no steps (SplitSigmas' high part at denoise 1: the level t = 1 alone) stays as it is, for
    // every sampler with a grid rule: there is nothing to sample (a moved level without a timestep broke it).
    const empty = sliceSigmas(plain, 0, 0);
    expect(empty.sigmas).toEqual([1]);
    for (const solver of ['dpmpp_2m_sde', 'seeds_2', 'dpm_fast', 'dpm_adaptive', 'unipc']) expect(comfyRunGrid(flowMs, solver, empty, 'scheduler'), solver).toBe(empty);
  });

  it('uni_pc: one step more without the second-to-last level (the schedule), ending at 0.001 (ComfyUI sample_unipc, the Sampler)', async () => {
    const plain = await run(handle(SD), { scheduler: 'karras', steps: 9 });
    const unipc = await run(handle(SD), { scheduler: 'karras', steps: 8, sampler: 'uni_pc' });
    expect(unipc.sigmas.length).toBe(9);
    expect(unipc.sigmas.slice(0, 8)).toEqual(plain.sigmas.slice(0, 8));
    expect(unipc.sigmas[8]).toBe(0);
    const walked = comfyRunGrid(comfyModelSampling(SD, 'vp'), 'unipc', unipc, 'scheduler');
    expect(walked.sigmas).toEqual([...unipc.sigmas.slice(0, 8), 0.001]);
    // A part that ends above 0 keeps its end.
    const head = sliceSigmas(unipc, 0, 4);
    expect(comfyRunGrid(comfyModelSampling(SD, 'vp'), 'unipc', head, 'scheduler')).toBe(head);
    expect(COMFY_SAMPLERS.uni_pc_bh2).toEqual({ solver: 'unipc', params: { unipc_order: '3', unipc_variant: 'bh2', unipc_form: 'data', exp_level_space: 've' } });
  });

  it('a bad scheduler config is reported as it is, not blamed on the latent input', async () => {
    const err = (await run(handle({ ...SD, beta_schedule: 'bogus' }), {}).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { port?: string };
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/beta_schedule/);
    expect(err.port).toBeUndefined();
    await expect(run(handle(FLUX, { _class_name: 'FluxPipeline' }), { steps: 4 }, new Tensor([2, 3]))).rejects.toMatchObject({ port: 'latent', message: expect.stringMatching(/no image size/) });
  });

  it('refuses denoise 0 with the reason', async () => {
    await expect(run(handle(SD), { denoise: 0 })).rejects.toThrow(/no steps/);
  });
});

describe('on a ComfyUI grid the Sampler calls off-grid levels at the nearest training step', () => {
  it('comfyTimestepAt gives integer steps where the diffusers rule interpolates', () => {
    const at = comfyTimestepAt(SD, 'vp', 'scheduler');
    const ms = comfyModelSampling(SD, 'vp');
    const between = Math.sqrt(ms.table[300] * ms.table[301]) * 1.0001;
    expect(at(between)).toBe(301);
    const sig = comfySigmas(ms, [ms.table[999], between, 0], 'scheduler', 'test');
    expect(sig.timesteps).toEqual([999, 301]);
  });
});

describe("LMS's step onto sigma 0", () => {
  const p = createGaussianParams({ dims: [3, 4, 4], seed: 3 });
  const model = createDenoiseFn(fakeVpModel(p, SD), { space: 'vp' });
  const sigmas = comfySigmas(comfyModelSampling(SD, 'vp'), comfyLevels(comfyModelSampling(SD, 'vp'), 'karras', 6), 'scheduler', 'test');
  const x = new Tensor([1, 3, 4, 4], Float32Array.from(seededNormals(48, 4), (v) => v * sigmas.sigmas[0]));

  it('denoise (ComfyUI) ends on the last x0 prediction; multistep (diffusers) combines derivatives there too', async () => {
    const comfy = await runSampler({ solver: createLms({ finalStep: 'denoise' }), sigmas, x, model });
    expect(Array.from(comfy.x.data)).toEqual(Array.from(comfy.denoised.data));
    const diffusers = await runSampler({ solver: createLms(), sigmas, x, model });
    expect(Array.from(diffusers.x.data)).not.toEqual(Array.from(diffusers.denoised.data));
    // The steps before the last are the same.
    const head = sliceSigmas(sigmas, 0, 5);
    const a = await runSampler({ solver: createLms({ finalStep: 'denoise' }), sigmas: head, x, model });
    const b = await runSampler({ solver: createLms(), sigmas: head, x, model });
    expect(Array.from(a.x.data)).toEqual(Array.from(b.x.data));
  });

  it('refuses an unknown final step', () => {
    expect(() => createLms({ finalStep: 'last' as never })).toThrow(/final step/);
  });
});
