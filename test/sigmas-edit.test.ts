/**
 * ComfyUI's sigma-editing nodes on FlowStudio grids (sigmas-edit.ts, Set First Sigma, Extend Intermediate
 * Sigmas): what each keeps, what it makes, and the model timesteps of the levels it makes. Run-level
 * agreement with ComfyUI's own node code is in test/comfyui-parity.test.ts (the "-ops-" cases).
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import type { ModelHandle, SchedulerConfig } from '../nodes/core/values.ts';
import { ComfySchedule } from '../nodes/comfy-schedule.ts';
import { ExtendIntermediateSigmas } from '../nodes/extend-intermediate-sigmas.ts';
import { SetFirstSigma } from '../nodes/set-first-sigma.ts';
import { comfyModelSampling, comfyStartScale } from '../nodes/sampling/comfy-schedules.ts';
import { modelTimestepAt } from '../nodes/sampling/level-timestep.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { extendFractions, extendIntermediateSigmas, setFirstLevel } from '../nodes/sampling/sigmas-edit.ts';
import { sliceSigmas } from '../nodes/sampling/sigmas-split.ts';
import { checkSigmas } from '../nodes/sampling/solver.ts';

const SD = { _class_name: 'EulerDiscreteScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 };
const SD3 = { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3.0 };
const FLUX = { _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: true, base_shift: 0.5, max_shift: 1.15 };
const ctx = {} as ExecContext;

function handle(scheduler: SchedulerConfig, modelIndex: Record<string, unknown> = { _class_name: 'StableDiffusionPipeline' }): ModelHandle {
  return { key: 'm', name: 'm', folder: '/m', modelIndex, scheduler, denoiserKind: 'unet', denoiser: undefined as never };
}
const comfyGrid = async (model: ModelHandle, scheduler: 'karras' | 'normal' | 'simple', steps: number, latent?: Tensor) =>
  (await ComfySchedule.execute(ctx, { model, latent }, { scheduler, steps, denoise: 1, sampler: 'euler' })).sigmas;

describe('ExtendIntermediateSigmas fractions', () => {
  it('linear: the interior of linspace(0, 1, steps + 1); cosine sin(x pi / 2); sine 1 - cos(x pi / 2)', () => {
    expect(extendFractions(1, 'linear')).toEqual([]);
    expect(extendFractions(4, 'linear')).toEqual([0.25, 0.5, 0.75]);
    const x = [0.25, 0.5, 0.75];
    extendFractions(4, 'cosine').forEach((v, k) => expect(v).toBeCloseTo(Math.sin((x[k] * Math.PI) / 2), 6));
    extendFractions(4, 'sine').forEach((v, k) => expect(v).toBeCloseTo(1 - Math.cos((x[k] * Math.PI) / 2), 6));
    // float32 values, as torch's tensors hold them.
    for (const v of extendFractions(7, 'cosine')) expect(Math.fround(v)).toBe(v);
    expect(() => extendFractions(0, 'linear')).toThrow(/at least 1/);
  });
});

describe('extendIntermediateSigmas', () => {
  it('splits only the steps that start inside [end, start]; kept levels keep their timesteps, new ones get the model\'s', async () => {
    const model = handle(SD);
    const grid = await comfyGrid(model, 'karras', 6);
    const ms = comfyModelSampling(SD, 'vp');
    const out = extendIntermediateSigmas(grid, { steps: 2, startAt: -1, endAt: 2, spacing: 'linear' }, (s) => ms.timestep(s));
    const inside = grid.sigmas.slice(0, 6).filter((s) => Math.fround(2) <= s).length;
    expect(out.timesteps).toHaveLength(6 + inside);
    expect(() => checkSigmas(out)).not.toThrow();
    // The first split step: its midpoint, (cur + next) / 2 in float32, at the nearest training step.
    const mid = Math.fround(Math.fround(0.5 * Math.fround(grid.sigmas[1] - grid.sigmas[0])) + grid.sigmas[0]);
    expect(out.sigmas.slice(0, 3)).toEqual([grid.sigmas[0], mid, grid.sigmas[1]]);
    expect(out.timesteps[1]).toBe(ms.timestep(mid));
    expect(out.timesteps[0]).toBe(grid.timesteps[0]);
    // Every level of the grid is still there, in order, ending at its end.
    expect(out.sigmas.filter((s) => grid.sigmas.includes(s))).toEqual(grid.sigmas);
    expect(out.initNoiseSigma).toBe(grid.initNoiseSigma);
    expect(out.offGridTimesteps).toBe('comfyui');
  });

  it('a bounded range leaves the others alone; a part keeps its place, the whole counted with the added steps', async () => {
    const grid = await comfyGrid(handle(SD), 'normal', 8);
    const at = () => 500;
    const none = extendIntermediateSigmas(grid, { steps: 3, startAt: 0.5, endAt: 0.4, spacing: 'sine' }, at);
    const hit = grid.sigmas.slice(0, 8).filter((s) => s >= Math.fround(0.4) && s <= Math.fround(0.5)).length;
    expect(none.timesteps.length).toBe(8 + 2 * hit);
    const tail = sliceSigmas(grid, 3, 8);
    expect(tail.segment).toBeDefined();
    const extended = extendIntermediateSigmas(tail, { steps: 2, startAt: -1, endAt: 0, spacing: 'linear' }, at);
    expect(extended.timesteps).toHaveLength(10);
    expect(extended.segment).toEqual({ ...tail.segment, total: 13 });
    // A head stays a head: it does not end the (longer) schedule.
    const head = extendIntermediateSigmas(sliceSigmas(grid, 0, 3), { steps: 3, startAt: -1, endAt: 0, spacing: 'linear' }, at);
    expect(head.segment).toEqual({ start: 0, total: 14, preceding: [] });
  });

  it('refuses a grid whose steps land off its list (DDIM\'s prev_t rule)', () => {
    const ddim = buildSigmas({ ...SD, timestep_spacing: 'linspace' }, {}, 10, 'ddim');
    expect(ddim.targets).toBeDefined();
    expect(() => extendIntermediateSigmas(ddim, { steps: 2, startAt: -1, endAt: 0, spacing: 'linear' }, () => 0)).toThrow(/prev_t/);
  });

  it('a diffusers grid: new levels at the training table\'s interpolated timesteps, in float64', () => {
    const grid = buildSigmas(SD, {}, 5, 'euler');
    const at = modelTimestepAt(SD, {}, 'vp', grid.origin);
    const out = extendIntermediateSigmas(grid, { steps: 2, startAt: -1, endAt: 0, spacing: 'linear' }, at);
    expect(out.sigmas[1]).toBe(grid.sigmas[0] + 0.5 * (grid.sigmas[1] - grid.sigmas[0]));
    expect(out.timesteps[1]).toBe(at(out.sigmas[1]));
    // Between the timesteps of its neighbours.
    expect(out.timesteps[1]).toBeLessThan(grid.timesteps[0]);
    expect(out.timesteps[1]).toBeGreaterThan(grid.timesteps[1]);
  });
});

describe('setFirstLevel', () => {
  it('replaces the first level and its timestep, keeps the rest; the start scale follows the new level', async () => {
    const grid = await comfyGrid(handle(SD), 'karras', 6);
    const ms = comfyModelSampling(SD, 'vp');
    const out = setFirstLevel(grid, 8, (s) => ms.timestep(s), (s) => comfyStartScale(ms, s));
    expect(out.sigmas).toEqual([8, ...grid.sigmas.slice(1)]);
    expect(out.timesteps).toEqual([ms.timestep(8), ...grid.timesteps.slice(1)]);
    // Below the table's top KSampler scales the noise by sigma itself; at or above it by sqrt(1 + sigma^2).
    expect(out.initNoiseSigma).toBe(8);
    expect(setFirstLevel(grid, 136, (s) => ms.timestep(s), (s) => comfyStartScale(ms, s)).initNoiseSigma).toBe(Math.sqrt(1 + 136 * 136));
    expect(ms.timestep(136)).toBe(999);
    // A level is stored as ComfyUI stores it: float32.
    expect(setFirstLevel(grid, 0.1, () => 0).sigmas[0]).toBe(Math.fround(0.1));
    // Without a start-scale rule the Sampler derives it from the grid (none recorded).
    expect(setFirstLevel(grid, 8, () => 0).initNoiseSigma).toBeUndefined();
  });

  it('refuses a level of 0, a flow level above 1 and a grid without steps', async () => {
    const grid = await comfyGrid(handle(SD), 'karras', 4);
    expect(() => setFirstLevel(grid, 0, () => 0)).toThrow(/positive/);
    const flow = await comfyGrid(handle(SD3, { _class_name: 'StableDiffusion3Pipeline' }), 'simple', 4);
    expect(() => setFirstLevel(flow, 1.5, () => 0)).toThrow(/\(0, 1\]/);
    expect(() => setFirstLevel(sliceSigmas(grid, 4, 4), 3, () => 0)).toThrow(/no steps/);
  });
});

describe('Set First Sigma and Extend Intermediate Sigmas nodes', () => {
  it('give new levels the timesteps the model is called at: ComfyUI\'s on its grids (t * 1000 on SD3), diffusers\' otherwise', async () => {
    const sd3 = handle(SD3, { _class_name: 'StableDiffusion3Pipeline' });
    const flow = await comfyGrid(sd3, 'simple', 4);
    const { sigmas } = await SetFirstSigma.execute(ctx, { model: sd3, sigmas: flow, latent: undefined }, { sigma: 0.7 });
    expect(sigmas.sigmas[0]).toBe(Math.fround(0.7));
    expect(sigmas.timesteps[0]).toBeCloseTo(700, 3);
    expect(sigmas.initNoiseSigma).toBe(Math.fround(0.7));
    const vp = buildSigmas(SD, {}, 4, 'euler');
    const set = (await SetFirstSigma.execute(ctx, { model: handle(SD), sigmas: vp, latent: undefined }, { sigma: 10 })).sigmas;
    expect(set.timesteps[0]).toBe(modelTimestepAt(SD, {}, 'vp', vp.origin)(10));
    expect(set.initNoiseSigma).toBeUndefined();
    const ext = (await ExtendIntermediateSigmas.execute(ctx, { model: sd3, sigmas: flow, latent: undefined }, { steps: 2, start_at_sigma: -1, end_at_sigma: 0, spacing: 'linear' })).sigmas;
    expect(ext.timesteps).toHaveLength(8);
    ext.timesteps.forEach((t, k) => expect(t).toBeCloseTo(ext.sigmas[k] * 1000, 2));
  });

  it('report bad input on the sigmas port; a FLUX-type ComfyUI grid needs the latent for its table', async () => {
    const sd3 = handle(SD3, { _class_name: 'StableDiffusion3Pipeline' });
    const flow = await comfyGrid(sd3, 'simple', 4);
    await expect(SetFirstSigma.execute(ctx, { model: sd3, sigmas: flow, latent: undefined }, { sigma: 2 })).rejects.toMatchObject({ port: 'sigmas' });
    const ddim = buildSigmas({ ...SD, timestep_spacing: 'linspace' }, {}, 6, 'ddim');
    await expect(ExtendIntermediateSigmas.execute(ctx, { model: handle(SD), sigmas: ddim, latent: undefined }, { steps: 2, start_at_sigma: -1, end_at_sigma: 0, spacing: 'linear' })).rejects.toMatchObject({ port: 'sigmas' });
    const flux = handle(FLUX, { _class_name: 'FluxPipeline' });
    const latent = Tensor.zeros([1, 16, 64, 64]);
    const grid = await comfyGrid(flux, 'simple', 4, latent);
    await expect(SetFirstSigma.execute(ctx, { model: flux, sigmas: grid, latent: undefined }, { sigma: 0.9 })).rejects.toThrow(/latent/);
    const ok = (await SetFirstSigma.execute(ctx, { model: flux, sigmas: grid, latent }, { sigma: 0.9 })).sigmas;
    // FLUX pipelines take t itself.
    expect(ok.timesteps[0]).toBeCloseTo(0.9, 6);
  });
});
