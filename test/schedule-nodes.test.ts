/** The Schedule and SplitSigmas nodes, the step-range cuts, and the img2img start rules (add-noise.ts). */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import type { ModelHandle, SchedulerConfig, Sigmas } from '../nodes/core/values.ts';
import { createDefaultRegistry } from '../nodes/index.ts';
import {
  addNoiseFlow,
  addNoiseVe,
  addNoiseVp,
  img2imgSigmas,
  img2imgStartStep,
  noisedStart,
  schedulerAddNoise,
} from '../nodes/sampling/add-noise.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { sliceSigmas, splitSigmasAt } from '../nodes/sampling/sigmas-split.ts';
import { splitSigmasDenoise } from '../nodes/sampling/sigmas-edit.ts';
import { checkSigmas } from '../nodes/sampling/solver.ts';
import { createDdim } from '../nodes/sampling/ddim.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { createGaussianParams, seededNormals } from '../nodes/sampling/gaussian.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { fakeVpModel } from './sampling-fake-model.ts';
import { parseSigmaList, Schedule } from '../nodes/schedule.ts';
import { SplitSigmas } from '../nodes/split-sigmas.ts';

const SD = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 };
const SD_DDIM = { ...SD, _class_name: 'DDIMScheduler', timestep_spacing: 'leading', steps_offset: 1, set_alpha_to_one: false };
const FLUX_DEV = { _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: true, shift: 3 };

function handle(scheduler: SchedulerConfig, modelIndex: Record<string, unknown>): ModelHandle {
  return { key: 'm', name: 'm', folder: '/m', modelIndex, scheduler, denoiserKind: 'unet', denoiser: undefined as never };
}
const ctx = {} as ExecContext;

type ScheduleParams = Parameters<typeof Schedule.execute>[2];
const DEFAULTS: ScheduleParams = {
  steps: 20,
  direction: 'sample',
  inversion_grid: 'diffusers',
  solver: 'auto',
  spacing: 'config',
  grid: 'config',
  final_sigmas: 'config',
  shift: 0,
  denoise: 1,
  custom_sigmas: '',
  scm_max_time: 1.5708,
  scm_mid_time: 1.3,
  image_width: 1024,
  image_height: 1024,
};
async function schedule(model: ModelHandle, params: Partial<ScheduleParams>, latent?: Tensor): Promise<Sigmas> {
  return (await Schedule.execute(ctx, { model, latent }, { ...DEFAULTS, ...params })).sigmas;
}

describe('Schedule node', () => {
  it('is registered with its ports', () => {
    const reg = createDefaultRegistry();
    expect(reg.get('Schedule')).toBe(Schedule);
    expect(reg.get('SplitSigmas')).toBe(SplitSigmas);
    expect(Schedule.outputs.sigmas.type).toBe('SIGMAS');
    expect(Schedule.params.custom_sigmas.when).toEqual({ param: 'grid', in: ['custom'] });
  });

  it('auto follows the model\'s scheduler class (DDIM: 50 leading steps + offset -> 981 ... 1)', async () => {
    const s = await schedule(handle(SD_DDIM, {}), { steps: 50 });
    expect(s.origin).toBe('DDIMScheduler');
    expect(s.timesteps[0]).toBe(981);
    expect(s.timesteps[49]).toBe(1);
  });

  it('applies spacing / grid / final overrides and the chosen solver family', async () => {
    const model = handle(SD_DDIM, {});
    const s = await schedule(model, { steps: 10, solver: 'dpmpp_2m', spacing: 'linspace', final_sigmas: 'zero' });
    expect(s.timesteps).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
    expect(s.sigmas[10]).toBe(0);
    const k = await schedule(model, { steps: 5, solver: 'dpmpp_2m', grid: 'karras' });
    expect(k.timesteps).toEqual([999, 786, 427, 59, 0]);
  });

  it('custom sigmas come from the text list; bad entries are named', async () => {
    const s = await schedule(handle(SD_DDIM, {}), { solver: 'euler', grid: 'custom', custom_sigmas: '14.6, 3.0 0.5; 0' });
    expect(s.sigmas).toEqual([14.6, 3, 0.5, 0]);
    expect(parseSigmaList(' 1,2 ,, 3 ')).toEqual([1, 2, 3]);
    await expect(schedule(handle(SD_DDIM, {}), { grid: 'custom', custom_sigmas: '1, x, 0' })).rejects.toThrow(/entry 2 \("x"\)/);
    await expect(schedule(handle(SD_DDIM, {}), { grid: 'custom', custom_sigmas: '' })).rejects.toThrow(/empty/);
  });

  it('denoise keeps the img2img tail and records where it sits', async () => {
    const s = await schedule(handle(SD_DDIM, {}), { steps: 10, denoise: 0.3 });
    const full = buildSigmas(SD_DDIM, {}, 10, 'ddim');
    // floor(10 * 0.3) = 3 steps: t_start = 7.
    expect(s.timesteps).toEqual(full.timesteps.slice(7));
    expect(s.sigmas).toEqual(full.sigmas.slice(7));
    expect(s.segment).toEqual({ start: 7, total: 10, preceding: full.sigmas.slice(0, 7) });
  });

  it('LCM: the distillation-schedule timesteps; denoise feeds the strength into that draw (every step runs)', async () => {
    const full = await schedule(handle(SD_DDIM, {}), { steps: 4, solver: 'lcm' });
    expect(full.timesteps).toEqual([999, 759, 499, 259]);
    expect(full.sigmas.at(-1)).toBe(0);
    // strength 0.5: the first 25 of the 50 distillation steps (499 down to 19), 4 of them.
    const part = await schedule(handle(SD_DDIM, {}), { steps: 4, solver: 'lcm', denoise: 0.5 });
    expect(part.timesteps).toEqual([499, 379, 259, 139]);
    await expect(schedule(handle(SD_DDIM, {}), { steps: 4, solver: 'lcm', spacing: 'trailing' })).rejects.toThrow(/do not apply/);
  });

  it('FLUX: the token count comes from the latent, else from the image size params', async () => {
    const model = handle(FLUX_DEV, { _class_name: 'FluxPipeline' });
    const e = Math.exp(1.15); // 4096 tokens
    const expected = [1, 0.75, 0.5, 0.25].map((t) => e / (e + 1 / t - 1));
    const fromLatent = await schedule(model, { steps: 4 }, Tensor.zeros([1, 16, 128, 128]));
    const fromPacked = await schedule(model, { steps: 4 }, Tensor.zeros([1, 4096, 64]));
    const fromSize = await schedule(model, { steps: 4 });
    for (const s of [fromLatent, fromPacked, fromSize]) expected.forEach((v, i) => expect(s.sigmas[i]).toBeCloseTo(v, 6));
    const small = await schedule(model, { steps: 4, image_width: 512, image_height: 512 });
    expect(small.sigmas[1]).toBeCloseTo(Math.exp(0.63) / (Math.exp(0.63) + 1 / 0.75 - 1), 6);
  });

  it('SCM (Sana Sprint): TrigFlow start and middle times reach the grid; denoise keeps the img2img tail', async () => {
    const sprint = handle({ _class_name: 'SCMScheduler', num_train_timesteps: 1000, prediction_type: 'trigflow', sigma_data: 0.5 }, { _class_name: 'SanaSprintPipeline' });
    const tau = (s: number) => Math.sin(s) / (Math.cos(s) + Math.sin(s));
    const plain = await schedule(sprint, { steps: 2 });
    expect(plain.origin).toBe('SCMScheduler');
    expect(plain.sigmas[1]).toBeCloseTo(tau(1.3), 6);
    const tuned = await schedule(sprint, { solver: 'scm', steps: 2, scm_max_time: 1.4, scm_mid_time: 1.0 });
    expect(tuned.sigmas[0]).toBeCloseTo(tau(1.4), 6);
    expect(tuned.sigmas[1]).toBeCloseTo(tau(1.0), 6);
    // 0: no middle time, evenly spaced TrigFlow times.
    const even = await schedule(sprint, { solver: 'scm', steps: 2, scm_mid_time: 0 });
    expect(even.sigmas[1]).toBeCloseTo(tau(0.7854), 5);
    const tail = await schedule(sprint, { solver: 'scm', steps: 4, scm_mid_time: 0, denoise: 0.6 });
    expect(tail.timesteps).toHaveLength(3);
    await expect(schedule(sprint, { solver: 'scm', steps: 2, scm_max_time: 1.2, scm_mid_time: 1.3 })).rejects.toThrow(/intermediate_timesteps must lie between 0 and max_timesteps/);
  });

  it("Lumina 2 with dynamic shifting takes its token count from the latent (its channels): without a latent it asks for one", async () => {
    const lumina = handle({ _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, use_dynamic_shifting: true }, { _class_name: 'Lumina2Pipeline' });
    await expect(schedule(lumina, { steps: 4 })).rejects.toThrow(/connect a latent/);
    const withLatent = await schedule(lumina, { steps: 4 }, Tensor.zeros([1, 16, 64, 64]));
    const flux = handle({ _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, use_dynamic_shifting: true }, { _class_name: 'FluxPipeline' });
    // Lumina 2 counts 16 (channels); the same grid as a FLUX-kind run given 16 tokens.
    expect(withLatent.sigmas).toEqual((await schedule(flux, { steps: 4 }, Tensor.zeros([1, 16, 64]))).sigmas);
  });

  it('shift override: flow models only', async () => {
    const s = await schedule(handle(FLUX_DEV, { _class_name: 'FluxPipeline' }), { steps: 2, shift: 3 });
    expect(s.sigmas[1]).toBeCloseTo(1.5 / 2, 6); // shift 3 of t = 0.5: 1.5 / (1 + 1)
    await expect(schedule(handle(SD_DDIM, {}), { shift: 3 })).rejects.toThrow(/flow models only/);
  });
});

describe('SplitSigmas', () => {
  const ddimLinspace = buildSigmas({ ...SD, timestep_spacing: 'linspace' }, {}, 10, 'ddim');

  it('at a step: high = steps [0, k), low = [k, N), sharing level k; pairs and targets stay together', async () => {
    expect(ddimLinspace.targets).toBeDefined();
    const { high, low } = await SplitSigmas.execute(ctx, { sigmas: ddimLinspace }, { mode: 'at_step', step: 4, from: 0, to: 0, denoise: 1 });
    expect(high.sigmas).toEqual(ddimLinspace.sigmas.slice(0, 5));
    expect(low.sigmas).toEqual(ddimLinspace.sigmas.slice(4));
    expect([...high.timesteps, ...low.timesteps]).toEqual(ddimLinspace.timesteps);
    expect([...high.targets!, ...low.targets!]).toEqual(ddimLinspace.targets);
    expect(high.segment).toEqual({ start: 0, total: 10, preceding: [] });
    expect(low.segment).toEqual({ start: 4, total: 10, preceding: ddimLinspace.sigmas.slice(0, 4) });
    expect(high.initNoiseSigma).toBe(ddimLinspace.initNoiseSigma);
    expect(low.initNoiseSigma).toBeUndefined();
    for (const part of [high, low]) expect(() => checkSigmas(part)).not.toThrow();
  });

  it('DDIM over high then low lands exactly where one full run does (targets split with their steps)', async () => {
    const p = createGaussianParams({ dims: [2, 4, 4], seed: 3 });
    const model = fakeVpModel(p, { ...SD, _class_name: 'DDIMScheduler', clip_sample: false, prediction_type: 'epsilon' });
    const fn = createDenoiseFn(model, { space: 'vp' });
    const x = new Tensor([1, 2, 4, 4], Float32Array.from(seededNormals(32, 9)));
    const run = (sigmas: Sigmas, start: Tensor) => runSampler({ solver: createDdim(), sigmas, x: start, model: fn });
    const full = await run(ddimLinspace, x);
    const { high, low } = splitSigmasAt(ddimLinspace, 4);
    const chained = await run(low, (await run(high, x)).x);
    expect([...chained.x.data]).toEqual([...full.x.data]);
  });

  it('clamps the step; an empty part is a valid zero-step grid', () => {
    const { high, low } = splitSigmasAt(ddimLinspace, 99);
    expect(high).toBe(ddimLinspace);
    expect(low.timesteps).toEqual([]);
    expect(low.sigmas).toEqual([ddimLinspace.sigmas[10]]);
    expect(() => checkSigmas(low)).not.toThrow();
  });

  it('range mode: high = [from, to), low = [to, N); nested cuts keep whole-schedule positions', async () => {
    const { high, low } = await SplitSigmas.execute(ctx, { sigmas: ddimLinspace }, { mode: 'range', step: 0, from: 2, to: 6, denoise: 1 });
    expect(high.timesteps).toEqual(ddimLinspace.timesteps.slice(2, 6));
    expect(high.sigmas).toEqual(ddimLinspace.sigmas.slice(2, 7));
    expect(low.timesteps).toEqual(ddimLinspace.timesteps.slice(6));
    expect(sliceSigmas(high, 1, 3).segment).toEqual({ start: 3, total: 10, preceding: ddimLinspace.sigmas.slice(0, 3) });
    await expect(SplitSigmas.execute(ctx, { sigmas: ddimLinspace }, { mode: 'range', step: 0, from: 5, to: 2, denoise: 1 })).rejects.toThrow(/from \(5\)/);
    expect(() => sliceSigmas(ddimLinspace, 3, 11)).toThrow(/not inside the 10-step schedule/);
  });
  it('denoise mode (ComfyUI SplitSigmasDenoise): low = the last round(N * denoise) steps, Python rounding halves to even', async () => {
    const split = (denoise: number) => SplitSigmas.execute(ctx, { sigmas: ddimLinspace }, { mode: 'denoise', step: 0, from: 0, to: 0, denoise });
    const { high, low } = await split(0.3);
    expect(low.timesteps).toEqual(ddimLinspace.timesteps.slice(7));
    expect(high.timesteps).toEqual(ddimLinspace.timesteps.slice(0, 7));
    expect(low.sigmas[0]).toBe(high.sigmas[high.sigmas.length - 1]);
    // 10 * 0.25 = 2.5 and 10 * 0.35 = 3.5: to the even neighbour, as Python's round.
    expect((await split(0.25)).low.timesteps).toHaveLength(2);
    expect((await split(0.35)).low.timesteps).toHaveLength(4);
    expect((await split(1)).high.timesteps).toEqual([]);
    expect((await split(0)).high).toBe(ddimLinspace);
    expect((await split(0.04)).low.timesteps).toEqual([]);
    expect(() => splitSigmasDenoise(ddimLinspace, 1.5)).toThrow(/\[0, 1\]/);
  });
});

describe('img2img (add-noise.ts)', () => {
  it('start step: init_timestep = min(floor(N * strength), N), t_start = N - init_timestep', () => {
    expect(img2imgStartStep(10, 0.3)).toBe(7); // 10 * 0.3 = 3.0000000000000004
    expect(img2imgStartStep(50, 0.75)).toBe(13); // floor(37.5) = 37
    expect(img2imgStartStep(100, 0.29)).toBe(72); // 28.999999999999996 -> 28
    expect(img2imgStartStep(20, 1)).toBe(0);
    expect(img2imgStartStep(20, 0)).toBe(20);
    expect(() => img2imgStartStep(20, 1.5)).toThrow(/\[0, 1\]/);
    const full = buildSigmas(SD_DDIM, {}, 20, 'ddim');
    expect(img2imgSigmas(full, 1)).toBe(full);
    expect(img2imgSigmas(full, 0).timesteps).toEqual([]);
  });

  const x0 = new Tensor([4], Float32Array.from([0.5, -1, 2, 0]));
  const noise = new Tensor([4], Float32Array.from([1, 0.25, -0.5, 2]));

  it('VP families: sqrt(abar) x0 + sqrt(1 - abar) noise; the sampler state is that over alpha = x0 + sigma noise', () => {
    const s = img2imgSigmas(buildSigmas(SD, {}, 10, 'dpmpp_2m'), 0.5);
    const sigma = s.sigmas[0];
    const abar = 1 / (sigma * sigma + 1);
    const vp = schedulerAddNoise(x0, noise, s);
    [...vp.data].forEach((v, i) => expect(v).toBeCloseTo(Math.sqrt(abar) * x0.data[i] + Math.sqrt(1 - abar) * noise.data[i], 6));
    const state = noisedStart(x0, noise, s);
    [...state.data].forEach((v, i) => expect(v).toBeCloseTo(vp.data[i] / Math.sqrt(abar), 5));
    // abar = 0.25: 0.5 x0 + sqrt(0.75) noise.
    const expected = [...x0.data].map((v, i) => 0.5 * v + Math.sqrt(0.75) * noise.data[i]);
    [...addNoiseVp(x0, noise, 0.25).data].forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it('Euler family: x0 + sigma noise in VE variables; flow: (1 - s) x0 + s noise', () => {
    const e = img2imgSigmas(buildSigmas(SD, {}, 10, 'euler'), 0.5);
    expect([...schedulerAddNoise(x0, noise, e).data]).toEqual([...addNoiseVe(x0, noise, e.sigmas[0]).data]);
    const f = img2imgSigmas(buildSigmas({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 }, {}, 10, 'euler'), 0.5);
    const t = f.sigmas[0];
    const flow = noisedStart(x0, noise, f);
    [...flow.data].forEach((v, i) => expect(v).toBeCloseTo((1 - t) * x0.data[i] + t * noise.data[i], 6));
    expect([...addNoiseFlow(x0, noise, 1).data]).toEqual([...noise.data]);
  });
});

describe('checkSigmas and the shared grid cache', () => {
  const good: Sigmas = { space: 'vp', sigmas: [2, 1, 0], timesteps: [900, 500] };

  it('names what is wrong with a grid no solver can walk', () => {
    expect(() => checkSigmas(good)).not.toThrow();
    expect(() => checkSigmas({ ...good, space: 've' as 'vp' })).toThrow(/unknown space "ve"/);
    expect(() => checkSigmas({ ...good, sigmas: [2, 1] })).toThrow(/2 levels for 2 timesteps/);
    expect(() => checkSigmas({ ...good, targets: [1] })).toThrow(/1 targets for 2 timesteps/);
    expect(() => checkSigmas({ ...good, sigmas: [2, Number.NaN, 0] })).toThrow(/level NaN is not a finite non-negative/);
    expect(() => checkSigmas({ ...good, sigmas: [2, -1, 0] })).toThrow(/level -1 is not/);
    expect(() => checkSigmas({ ...good, targets: [1, Infinity] })).toThrow(/level Infinity is not/);
    expect(() => checkSigmas({ ...good, timesteps: [900, Number.NaN] })).toThrow(/a timestep is not finite/);
    expect(() => checkSigmas({ space: 'flow', sigmas: [1.5, 0.5, 0], timesteps: [1, 0.5] })).toThrow(/flow levels must lie in \[0, 1\]/);
    expect(() => checkSigmas({ space: 'flow', sigmas: [1, 0.5, 0], timesteps: [1000, 500] })).not.toThrow();
  });

  it('hands out one frozen grid per request, and a fresh one when anything in the request differs', () => {
    const a = buildSigmas(SD_DDIM, {}, 12, 'ddim');
    expect(buildSigmas({ ...SD_DDIM }, {}, 12, 'ddim')).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen(a.sigmas) && Object.isFrozen(a.timesteps)).toBe(true);
    expect(() => (a.sigmas as number[]).push(0)).toThrow();
    expect(buildSigmas(SD_DDIM, {}, 13, 'ddim')).not.toBe(a);
    expect(buildSigmas({ ...SD_DDIM, steps_offset: 0 }, {}, 12, 'ddim').timesteps[0]).toBe(a.timesteps[0] - 1);
    expect(buildSigmas(SD_DDIM, {}, 12, 'ddim', { spacing: 'trailing' }).timesteps).not.toEqual(a.timesteps);
  });
});
