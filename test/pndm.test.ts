/**
 * PNDM against a reference written here from diffusers' PNDMScheduler (set_timesteps, step_prk,
 * step_plms, _get_prev_sample) in VP variables and float64: the same model calls (timesteps, in order) and
 * the same final sample, with PLMS's and the Runge-Kutta warm-up, for eps and v-prediction models and the
 * three timestep spacings.
 */
import { describe, expect, it } from 'vitest';
import { paramDefaults } from '../nodes/core/params.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { Sampler } from '../nodes/sampler.ts';
import type { SchedulerConfig, Sigmas } from '../nodes/core/values.ts';
import { img2imgSigmas } from '../nodes/sampling/add-noise.ts';
import { splitSigmasAt } from '../nodes/sampling/sigmas-split.ts';
import { alphasCumprod, betasFromConfig } from '../nodes/sampling/betas.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { createGaussianParams, seededNormals } from '../nodes/sampling/gaussian.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { defaultSolverFor } from '../nodes/sampling/schedule-rules.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import { ddimFamilyTimesteps } from './exp-solver-helpers.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import { fakeVpModel, rawModelFn, relL2 } from './sampling-fake-model.ts';

const DIMS = [1, 3, 8, 8];
const P = createGaussianParams({ dims: DIMS.slice(1), seed: 3 });

/** Stable Diffusion 1.5's scheduler_config.json (PNDMScheduler, PLMS). */
const SD15_PNDM: SchedulerConfig = {
  _class_name: 'PNDMScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  clip_sample: false,
};

/** PNDMScheduler.set_timesteps: _timesteps ascending, then the PRK and PLMS lists. */
function pndmTimesteps(cfg: SchedulerConfig, n: number): { prk: number[]; plms: number[] } {
  const T = 1000;
  // _timesteps ascending.
  const ts = ddimFamilyTimesteps(cfg, n, T).reverse();
  if (cfg.skip_prk_steps === true) return { prk: [], plms: [...ts.slice(0, -1), ...ts.slice(-2, -1), ...ts.slice(-1)].reverse() };
  // prk = _timesteps[-4:].repeat(2) + tile([0, T//N//2], 4); then prk[:-1].repeat(2)[1:-1][::-1].
  const half = Math.floor(Math.floor(T / n) / 2);
  const base = ts.slice(-4).flatMap((t) => [t, t + half]);
  const doubled = base.slice(0, -1).flatMap((t) => [t, t]);
  return { prk: doubled.slice(1, -1).reverse(), plms: ts.slice(0, -3).reverse() };
}

/** diffusers' PNDMScheduler loop (step_prk, step_plms) in VP variables; the final sample and the model's timesteps. */
async function diffusersPndm(
  cfg: SchedulerConfig,
  n: number,
  x0: Float64Array,
  raw: (x: Float64Array, t: number) => Promise<Float64Array>,
  img2img?: { strength: number; noise: Float64Array },
) {
  const abar = alphasCumprod(betasFromConfig(cfg));
  const finalAbar = cfg.set_alpha_to_one === true ? 1 : abar[0];
  const ratio = Math.floor(1000 / n);
  const vpred = cfg.prediction_type === 'v_prediction';
  const prevSample = (sample: Float64Array, t: number, prevT: number, out: Float64Array) => {
    const at = abar[t];
    const ap = prevT >= 0 ? abar[prevT] : finalAbar;
    const res = new Float64Array(sample.length);
    for (let k = 0; k < sample.length; k++) {
      const e = vpred ? Math.sqrt(at) * out[k] + Math.sqrt(1 - at) * sample[k] : out[k];
      const denom = at * Math.sqrt(1 - ap) + Math.sqrt(at * (1 - at) * ap);
      res[k] = Math.sqrt(ap / at) * sample[k] - ((ap - at) * e) / denom;
    }
    return res;
  };
  const combine = (ws: number[], es: Float64Array[]) => es[0].map((_, k) => ws.reduce((acc, w, j) => acc + w * es[j][k], 0));
  const { prk, plms } = pndmTimesteps(cfg, n);
  let list = [...prk, ...plms];
  let x = x0;
  if (img2img) {
    // StableDiffusionImg2ImgPipeline: timesteps[t_start * order:], add_noise at the first of them.
    const tStart = Math.max(n - Math.min(Math.floor(n * img2img.strength), n), 0);
    list = list.slice(tStart);
    const a = abar[list[0]];
    x = x0.map((v, k) => Math.sqrt(a) * v + Math.sqrt(1 - a) * img2img.noise[k]);
  }
  let ets: Float64Array[] = [];
  let cur: Float64Array | undefined;
  let curOut: Float64Array | undefined;
  const seen: number[] = [];
  let counter = 0;
  for (const called of list) {
    seen.push(called);
    let out = await raw(x, called);
    if (counter < prk.length) {
      // step_prk
      const diff = counter % 2 ? 0 : Math.floor(ratio / 2);
      const prevT = called - diff;
      const t = prk[Math.floor(counter / 4) * 4];
      const add = (w: number) => (curOut = curOut ? combine([1, w], [curOut, out]) : combine([w], [out]));
      if (counter % 4 === 0) {
        add(1 / 6);
        ets.push(out);
        cur = x;
      } else if (counter % 4 === 1 || counter % 4 === 2) add(1 / 3);
      else {
        out = combine([1, 1 / 6], [curOut!, out]);
        curOut = undefined;
      }
      x = prevSample(cur!, t, prevT, out);
    } else {
      // step_plms
      let t = called;
      let prevT = t - ratio;
      if (counter !== 1) ets = [...ets.slice(-3), out];
      else {
        prevT = t;
        t = t + ratio;
      }
      let sample = x;
      if (ets.length === 1 && counter === 0) cur = x;
      else if (ets.length === 1 && counter === 1) {
        out = combine([0.5, 0.5], [out, ets[0]]);
        sample = cur!;
        cur = undefined;
      } else if (ets.length === 2) out = combine([3 / 2, -1 / 2], [ets[1], ets[0]]);
      else if (ets.length === 3) out = combine([23 / 12, -16 / 12, 5 / 12], [ets[2], ets[1], ets[0]]);
      else if (ets.length === 4) out = combine([55 / 24, -59 / 24, 37 / 24, -9 / 24], [ets[3], ets[2], ets[1], ets[0]]);
      x = prevSample(sample, t, prevT, out);
    }
    counter++;
  }
  return { x, seen };
}

async function compare(cfg: SchedulerConfig, n: number) {
  const model = fakeVpModel(P, cfg);
  const xvp = seededNormals(DIMS.reduce((a, b) => a * b, 1), 11);
  const ref = await diffusersPndm(cfg, n, xvp, rawModelFn(model, DIMS));
  model.seen.length = 0;
  const sigmas = buildSigmas(cfg, model.modelIndex, n, 'pndm');
  const s0 = sigmas.sigmas[0];
  const sEnd = sigmas.sigmas[sigmas.sigmas.length - 1];
  const x = new Tensor(DIMS, Float32Array.from(xvp, (v) => v * Math.sqrt(s0 * s0 + 1)));
  const r = await runSampler({ solver: createSolver('pndm', cfg), sigmas, x, model: createDenoiseFn(model, { space: 'vp' }) });
  const ours = Float64Array.from(r.x.data, (v) => v / Math.sqrt(sEnd * sEnd + 1));
  return { ours, ref: ref.x, seen: [...model.seen], refSeen: ref.seen };
}

describe('PNDM matches diffusers PNDMScheduler', () => {
  const prk = { ...SD15_PNDM, skip_prk_steps: false };
  const cases: [string, SchedulerConfig, number][] = [
    ['PLMS: SD 1.5, leading, 1 step', SD15_PNDM, 1],
    ['PLMS: SD 1.5, leading, 2 steps', SD15_PNDM, 2],
    ['PLMS: SD 1.5, leading, 5 steps', SD15_PNDM, 5],
    ['PLMS: SD 1.5, leading, 25 steps', SD15_PNDM, 25],
    ['PLMS: linspace, 10 steps', { ...SD15_PNDM, timestep_spacing: 'linspace' }, 10],
    ['PLMS: trailing, 7 steps', { ...SD15_PNDM, timestep_spacing: 'trailing', steps_offset: 0 }, 7],
    ['PLMS: v-prediction, 12 steps', { ...SD15_PNDM, prediction_type: 'v_prediction' }, 12],
    ['PLMS: set_alpha_to_one, 10 steps', { ...SD15_PNDM, set_alpha_to_one: true }, 10],
    ['PRK warm-up: leading, 4 steps', prk, 4],
    ['PRK warm-up: leading, 20 steps', prk, 20],
    ['PRK warm-up: odd T//N (9 steps: stages off by one level)', prk, 9],
    ['PRK warm-up: linspace, 10 steps', { ...prk, timestep_spacing: 'linspace' }, 10],
    ['PRK warm-up: v-prediction, 12 steps', { ...prk, prediction_type: 'v_prediction' }, 12],
  ];
  it.each(cases)('%s: same model calls and final sample', async (_name, cfg, n) => {
    const { ours, ref, seen, refSeen } = await compare(cfg, n);
    expect(seen).toEqual(refSeen);
    expect(relL2(ours, ref)).toBeLessThan(1e-5);
  });

  it.each([
    [10, 0.3],
    [10, 0.75],
    [10, 0.85],
    [10, 0.9],
    [10, 0.1],
    [25, 0.6],
  ])('PLMS img2img, %i steps at strength %f: the img2img pipeline\'s cut list, noise and model calls', async (n, strength) => {
    const model = fakeVpModel(P, SD15_PNDM);
    const size = DIMS.reduce((a, b) => a * b, 1);
    const init = seededNormals(size, 21).map((v) => 0.5 * v + 0.1);
    const noise = seededNormals(size, 22);
    const ref = await diffusersPndm(
      SD15_PNDM,
      n,
      init,
      rawModelFn(model, DIMS),
      { strength, noise },
    );
    model.seen.length = 0;
    const out = await Sampler.execute(
      fakeExecContext({ nodeId: 's', nodeType: 'Sampler' }),
      {
        model,
        latent: new Tensor(DIMS, Float32Array.from(init)),
        noise: new Tensor(DIMS, Float32Array.from(noise)),
        sigmas: undefined,
        conditioning: undefined,
        guidance: undefined,
        mean: undefined,
      },
      { ...(paramDefaults(Sampler) as Parameters<typeof Sampler.execute>[2]), solver: 'pndm', steps: n, start: 'img2img', denoise: strength },
    );
    expect(model.seen).toEqual(ref.seen);
    expect(relL2(out.latent.data, ref.x)).toBeLessThan(1e-5);
  });

  it('PLMS img2img refuses a schedule already cut (by denoise or a split), naming the sigmas input', async () => {
    const model = fakeVpModel(P, SD15_PNDM);
    const full = buildSigmas(SD15_PNDM, model.modelIndex, 20, 'pndm');
    const run = (sigmas: Sigmas) =>
      Sampler.execute(
        fakeExecContext({ nodeId: 's', nodeType: 'Sampler' }),
        { model, latent: new Tensor(DIMS), noise: undefined, sigmas, conditioning: undefined, guidance: undefined, mean: undefined },
        { ...(paramDefaults(Sampler) as Parameters<typeof Sampler.execute>[2]), solver: 'pndm', start: 'img2img', denoise: 0.6 },
      );
    for (const cut of [img2imgSigmas(full, 0.6), splitSigmasAt(full, 12).high]) {
      await expect(run(cut)).rejects.toMatchObject({ port: 'sigmas', message: expect.stringMatching(/connect the full schedule/) });
    }
    // The whole schedule is cut by the Sampler itself.
    await expect(run(full)).resolves.toBeDefined();
  });

  it('PLMS makes N + 1 model calls (one for a single step), the Runge-Kutta warm-up N + 9', () => {
    const plms = createSolver('pndm', SD15_PNDM);
    const rk = createSolver('pndm', { ...SD15_PNDM, skip_prk_steps: false });
    const model = fakeVpModel(P, SD15_PNDM);
    for (const n of [1, 2, 10]) expect(plms.modelCalls!(buildSigmas(SD15_PNDM, model.modelIndex, n, 'pndm'))).toBe(n === 1 ? 1 : n + 1);
    expect(rk.modelCalls!(buildSigmas(SD15_PNDM, model.modelIndex, 10, 'pndm'))).toBe(19);
  });

  it('the Runge-Kutta warm-up needs 4 steps or more (diffusers cannot build its timesteps below that)', () => {
    const cfg = { ...SD15_PNDM, skip_prk_steps: false };
    const model = fakeVpModel(P, cfg);
    const solver = createSolver('pndm', cfg);
    expect(() => solver.init({ sigmas: buildSigmas(cfg, model.modelIndex, 3, 'pndm') }, new Tensor(DIMS))).toThrow(/at least 4 steps, got 3/);
  });

  it('runs on the PNDM grid: set_alpha_to_one defaults to false for PNDM (true for DDIM)', () => {
    const model = fakeVpModel(P, SD15_PNDM);
    const { set_alpha_to_one: _drop, ...noKey } = SD15_PNDM;
    const pndm = buildSigmas(noKey, model.modelIndex, 10, 'pndm');
    const ddim = buildSigmas(noKey, model.modelIndex, 10, 'ddim');
    expect(pndm.sigmas.at(-1)).toBeGreaterThan(0);
    expect(ddim.sigmas.at(-1)).toBe(0);
    expect(pndm.timesteps).toEqual(ddim.timesteps);
  });

  it('auto picks PNDM for PNDMScheduler configs, with or without the Runge-Kutta warm-up', () => {
    expect(defaultSolverFor(SD15_PNDM, 'vp')).toBe('pndm');
    expect(defaultSolverFor({ ...SD15_PNDM, skip_prk_steps: false }, 'vp')).toBe('pndm');
  });

  it('refuses x0-prediction models and grids off the training table, naming the cause', async () => {
    expect(() => createSolver('pndm', { ...SD15_PNDM, prediction_type: 'sample' })).toThrow(/prediction_type "sample"/);
    const model = fakeVpModel(P, SD15_PNDM);
    const karras = buildSigmas({ ...SD15_PNDM, use_karras_sigmas: true }, model.modelIndex, 8, 'dpmpp_2m');
    const solver = createSolver('pndm', SD15_PNDM);
    expect(() => solver.init({ sigmas: karras }, new Tensor(DIMS))).toThrow(/not one of the model's training levels/);
  });
});
