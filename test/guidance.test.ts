import { describe, expect, it } from 'vitest';
import { CFG, modelGuider } from '../nodes/cfg.ts';
import { paramDefaults } from '../nodes/core/params.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import type { Conditioning, Guidance, ModelFeed, TensorInfo } from '../nodes/core/values.ts';
import { Sampler } from '../nodes/sampler.ts';
import { alphasCumprod, betasFromConfig } from '../nodes/sampling/betas.ts';
import { predictionFromOutput, type PredictionType } from '../nodes/sampling/denoiser.ts';
import { createGaussianParams, epsVP, seededNormals } from '../nodes/sampling/gaussian.ts';
import { apgUpdate, batchedCfgDenoiseFn, cfgDenoiseFn, combineCfg, concatBatch, outputOfPrediction, rescaleGuided, splitBatch, type ApgSettings, type ApgState } from '../nodes/sampling/guidance.ts';
import type { DenoiseFn } from '../nodes/sampling/solver.ts';
import { fakeVpModel, relL2, SD_VP_DDIM, type FakeModel } from './sampling-fake-model.ts';

const p = createGaussianParams({ dims: [3, 8, 8], seed: 5 });
const D = 192;
const DIMS = [1, 3, 8, 8];
const t = (seed: number, scale = 1) => new Tensor(DIMS, Float32Array.from(seededNormals(D, seed), (v) => v * scale));

/**
 * A class-conditional VP unet for Gaussian data: the conditioning input `class_shift` [batch, D] shifts the
 * data mean of each batch row, x0 ~ N(mu + c, Sigma). The optimal x0 is affine in c, so CFG with scale w on
 * (c_cond, c_uncond) is exactly the model conditioned on c_w = c_uncond + w (c_cond - c_uncond).
 */
function conditionalModel(opts: { fixedBatch?: boolean } = {}): FakeModel {
  const abar = alphasCumprod(betasFromConfig(SD_VP_DDIM));
  const batch = opts.fixedBatch ? 1 : 'batch';
  const inputs: TensorInfo[] = [
    { name: 'sample', type: 'float32', shape: [batch, 3, 8, 8] },
    { name: 'timestep', type: 'float32', shape: [1] },
    { name: 'class_shift', type: 'float32', shape: [batch, D] },
  ];
  const model: FakeModel = {
    key: 'fake:cond',
    name: 'cond',
    folder: '/fake/cond',
    modelIndex: { _class_name: 'StableDiffusionPipeline' },
    scheduler: SD_VP_DDIM,
    denoiserKind: 'unet',
    calls: 0,
    seen: [],
    denoiser: {
      file: '/fake/cond/unet/model.onnx',
      provider: 'cpu',
      inputs,
      outputs: [{ name: 'out_sample', type: 'float32', shape: [batch, 3, 8, 8] }],
      async run(feeds: Record<string, ModelFeed>) {
        model.calls++;
        const ts = Number(feeds.timestep.data[0]);
        model.seen.push(ts);
        const s = Math.sqrt((1 - abar[ts]) / abar[ts]);
        const alpha = 1 / Math.sqrt(s * s + 1);
        const sigma = s * alpha;
        const x = feeds.sample.data as Float32Array;
        const c = feeds.class_shift.data as Float32Array;
        const rows = feeds.sample.dims[0];
        if (feeds.class_shift.dims[0] !== rows) throw new Error('class_shift batch differs from the sample batch');
        const out = new Float32Array(x.length);
        for (let b = 0; b < rows; b++) {
          const shifted = { ...p, mu: Float64Array.from(p.mu, (m, k) => m + c[b * D + k]) };
          out.set(epsVP(shifted, Float64Array.from(x.subarray(b * D, (b + 1) * D)), alpha, sigma), b * D);
        }
        return { out_sample: new Tensor(feeds.sample.dims, out) };
      },
    },
  };
  return model;
}

const cond = (c: Tensor): Conditioning => ({ feeds: { class_shift: c.reshape([1, D]) } });
const C_POS = t(31, 0.5);
const C_NEG = t(32, 0.3);

const context = (): ExecContext => fakeExecContext({ nodeId: 's' });

type Params = Parameters<typeof Sampler.execute>[2];

function sample(model: FakeModel, conditioning: Conditioning | undefined, guidance: Guidance | undefined, params: Partial<Params> = {}) {
  return Sampler.execute(
    context(),
    { model, latent: Tensor.zeros(DIMS), noise: undefined, sigmas: undefined, conditioning, guidance, mean: undefined },
    { ...(paramDefaults(Sampler) as Params), steps: 12, seed: 3, ...params },
  );
}

async function cfgGuidance(scale: number, negative?: Tensor, mode: 'auto' | 'batched' | 'separate' = 'auto', rescale = 0, more: Partial<Parameters<typeof CFG.execute>[2]> = {}): Promise<Guidance> {
  const params = { ...(paramDefaults(CFG) as Parameters<typeof CFG.execute>[2]), scale, rescale, mode, ...more };
  const out = await CFG.execute(context(), { negative: negative ? cond(negative) : undefined }, params);
  return out.guidance;
}

describe('CFG math', () => {
  it('combines as uncond + scale (cond - uncond); scale 1 is the conditional output, 0 the unconditional', () => {
    const c = t(1);
    const u = t(2);
    const g = combineCfg(c, u, { scale: 4 });
    g.data.forEach((v, k) => expect(v).toBeCloseTo(u.data[k] + 4 * (c.data[k] - u.data[k]), 5));
    expect([...combineCfg(c, u, { scale: 1 }).data]).toEqual([...c.data]);
    expect([...combineCfg(c, u, { scale: 0 }).data]).toEqual([...u.data]);
    expect(() => combineCfg(c, u, { scale: 2, rescale: 1.5 })).toThrow(/rescale/);
  });

  it('rescale (diffusers rescale_noise_cfg): std(out) = phi std(cond) + (1 - phi) std(guided), per sample', () => {
    const c = new Tensor([2, 3, 8, 8], Float32Array.from(seededNormals(2 * D, 3)));
    const guided = new Tensor([2, 3, 8, 8], Float32Array.from(seededNormals(2 * D, 4), (v, k) => (k < D ? 3 : 5) * v + 0.2));
    const std = (a: ArrayLike<number>) => {
      const m = Array.from(a).reduce((s, v) => s + v, 0) / a.length;
      return Math.sqrt(Array.from(a).reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
    };
    const out = rescaleGuided(guided, c, 0.7);
    for (const [c0, c1] of [[0, D], [D, 2 * D]]) {
      const want = 0.7 * std(c.data.slice(c0, c1)) + 0.3 * std(guided.data.slice(c0, c1));
      expect(std(out.data.slice(c0, c1))).toBeCloseTo(want, 4);
    }
    expect([...rescaleGuided(guided, c, 0).data]).toEqual([...guided.data]);
  });

  it('recovers the raw model output from a Prediction for every output type', () => {
    const x = t(5, 3);
    const out = t(6);
    for (const [space, type] of [['vp', 'epsilon'], ['vp', 'sample'], ['vp', 'v_prediction'], ['flow', 'flow'], ['flow', 'epsilon'], ['flow', 'sample']] as const) {
      const sigma = space === 'flow' ? 0.4 : 2.5;
      const pred = predictionFromOutput(out, x, sigma, space, type as PredictionType);
      expect(relL2(outputOfPrediction(pred, x, sigma, { space, type: type as PredictionType }).data, out.data)).toBeLessThan(1e-6);
    }
  });

  it('cfgDenoiseFn with rescale acts on the raw output (eps here) and keeps the Prediction consistent', async () => {
    const x = t(7, 3);
    const level = { sigma: 2, timestep: 0 };
    const fromEps = (eps: Tensor): DenoiseFn => async (xx) => predictionFromOutput(eps, xx, 2, 'vp', 'epsilon');
    const ec = t(8);
    const eu = t(9);
    const fn = cfgDenoiseFn(fromEps(ec), fromEps(eu), { scale: 5, rescale: 0.6 }, { space: 'vp', type: 'epsilon' });
    const pred = await fn(x, level);
    const want = combineCfg(ec, eu, { scale: 5, rescale: 0.6 });
    expect(relL2(pred.eps.data, want.data)).toBeLessThan(1e-6);
    expect(relL2(pred.denoised.data, x.data.map((v, k) => v - 2 * want.data[k]))).toBeLessThan(1e-6);
  });

  it("rows renormalization (Lumina 2, QwenImage): every last-axis row of the guided output gets the conditional row's norm", () => {
    const c = t(11);
    const u = t(12, 2);
    const out = combineCfg(c, u, { scale: 4, normalize: 'rows' });
    const guided = combineCfg(c, u, { scale: 4 });
    const w = DIMS[3];
    const norm = (a: ArrayLike<number>, r: number) => Math.hypot(...Array.from({ length: w }, (_, k) => a[r + k]));
    for (let r = 0; r < D; r += w) {
      expect(norm(out.data, r)).toBeCloseTo(norm(c.data, r), 4);
      // Same direction as the plain guided row.
      const f = out.data[r] / guided.data[r];
      for (let k = 0; k < w; k++) expect(out.data[r + k]).toBeCloseTo(f * guided.data[r + k], 4);
    }
  });

  it('rows-down renormalization (LongCat-Image cfg_renorm): each row scaled by clamp(||cond|| / (||guided|| + 1e-8), min, 1)', () => {
    const c = t(15);
    const u = t(16, 2);
    const guided = combineCfg(c, u, { scale: 4 });
    const w = DIMS[3];
    const norm = (a: ArrayLike<number>, r: number) => Math.hypot(...Array.from({ length: w }, (_, k) => a[r + k]));
    for (const min of [0, 0.9]) {
      const out = combineCfg(c, u, { scale: 4, normalize: 'rows-down', renormMin: min });
      let shrunk = 0;
      for (let r = 0; r < D; r += w) {
        const f = Math.min(Math.max(norm(c.data, r) / (norm(guided.data, r) + 1e-8), min), 1);
        if (f < 1) shrunk++;
        for (let k = 0; k < w; k++) expect(out.data[r + k]).toBeCloseTo(f * guided.data[r + k], 5);
      }
      expect(shrunk).toBeGreaterThan(0);
    }
    expect(() => combineCfg(c, u, { scale: 4, normalize: 'rows-down', renormMin: 2 })).toThrow(/lower bound must be in \[0, 1\]/);
  });

  it('clamp renormalization (Z-Image) clamps a sample only when its norm exceeds k times the conditional norm', () => {
    const c = new Tensor([2, 3, 8, 8], Float32Array.from(seededNormals(2 * D, 13)));
    const u = new Tensor([2, 3, 8, 8], Float32Array.from(seededNormals(2 * D, 14), (v, k) => (k < D ? 3 * v : c.data[k] * 0.9)));
    const guided = combineCfg(c, u, { scale: 3 });
    const out = combineCfg(c, u, { scale: 3, normalize: 'clamp', normLimit: 1.5 });
    const norm = (a: ArrayLike<number>, b: number) => Math.hypot(...Array.from(a).slice(b * D, (b + 1) * D));
    // Sample 0 is pushed far from cond (its norm exceeds 1.5 ||cond||): clamped to exactly that.
    expect(norm(guided.data, 0)).toBeGreaterThan(1.5 * norm(c.data, 0));
    expect(norm(out.data, 0)).toBeCloseTo(1.5 * norm(c.data, 0), 3);
    // Sample 1 stays near cond: untouched.
    expect(norm(guided.data, 1)).toBeLessThan(1.5 * norm(c.data, 1));
    expect([...out.data.slice(D)]).toEqual([...guided.data.slice(D)]);
    expect(() => combineCfg(c, u, { scale: 3, normalize: 'clamp', normLimit: 0 })).toThrow(/limit must be positive/);
  });

  /** Conditional and unconditional eps models with fixed outputs, counting the unconditional calls. */
  const fixedPair = (condSeed: number, uncondSeed: number) => {
    const kind = { space: 'vp' as const, type: 'epsilon' as const };
    const condOut = t(condSeed);
    const uncondOut = t(uncondSeed);
    const counter = { uncond: 0 };
    const condFn: DenoiseFn = async (xs, level) => predictionFromOutput(condOut, xs, level.sigma, 'vp', 'epsilon');
    const uncondFn: DenoiseFn = async (xs, level) => {
      counter.uncond++;
      return predictionFromOutput(uncondOut, xs, level.sigma, 'vp', 'epsilon');
    };
    return { kind, condOut, uncondOut, condFn, uncondFn, counter };
  };
  const apgOf = (more: Partial<ApgSettings> = {}): ApgSettings => ({ convention: 'diffusers', eta: 1, normThreshold: 0, momentum: 0, ...more });
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>, lo: number, hi: number) => {
    let s = 0;
    for (let k = lo; k < hi; k++) s += a[k] * b[k];
    return s;
  };

  it('APG with eta 1, no cap and no momentum is the plain difference: diffusers APG is then CFG itself', () => {
    const c = t(41);
    const u = t(42, 0.7);
    const upd = apgUpdate(c, u, apgOf(), {}, 1);
    upd.forEach((v, k) => expect(v).toBeCloseTo(c.data[k] - u.data[k], 5));
    const plain = combineCfg(c, u, { scale: 6 });
    const apg = combineCfg(c, u, { scale: 6, apg: apgOf() }, { state: {}, sigma: 1 });
    expect(relL2(apg.data, plain.data)).toBeLessThan(1e-6);
  });

  it('APG keeps the difference orthogonal to the conditional prediction and weights the parallel part by eta, per sample', () => {
    // Per sample b: diff = a_b cond_b + o_b with o_b orthogonal to cond_b, so the update is eta a_b cond_b + o_b.
    const dims = [2, 3, 8, 8];
    const n = D;
    const cond = new Tensor(dims, Float32Array.from(seededNormals(2 * n, 51)));
    const raw = Float64Array.from(seededNormals(2 * n, 52));
    const a = [0.8, -1.7];
    const diff = new Float64Array(2 * n);
    const orth = new Float64Array(2 * n);
    for (let b = 0; b < 2; b++) {
      const lo = b * n;
      const f = dot(raw, cond.data, lo, lo + n) / dot(cond.data, cond.data, lo, lo + n);
      for (let k = lo; k < lo + n; k++) {
        orth[k] = raw[k] - f * cond.data[k];
        diff[k] = a[b] * cond.data[k] + orth[k];
      }
    }
    const uncond = new Tensor(dims, Float32Array.from(cond.data, (v, k) => v - diff[k]));
    const eta = 0.25;
    const upd = apgUpdate(cond, uncond, apgOf({ eta }), {}, 1);
    for (let b = 0; b < 2; b++) {
      const lo = b * n;
      const expected = Float64Array.from({ length: n }, (_, k) => eta * a[b] * cond.data[lo + k] + orth[lo + k]);
      expect(relL2(upd.subarray(lo, lo + n), expected)).toBeLessThan(1e-5);
    }
    // eta 0 removes the parallel part entirely: the update is orthogonal to cond.
    const ortho = apgUpdate(cond, uncond, apgOf({ eta: 0 }), {}, 1);
    for (let b = 0; b < 2; b++) expect(Math.abs(dot(ortho, cond.data, b * n, (b + 1) * n))).toBeLessThan(1e-4 * Math.sqrt(dot(cond.data, cond.data, b * n, (b + 1) * n)));
  });

  it('APG caps each sample\'s difference at the norm threshold before projecting, and leaves smaller ones alone', () => {
    const c = t(61);
    const u = t(62);
    const norm = Math.sqrt(dot(c.data.map((v, k) => v - u.data[k]), c.data.map((v, k) => v - u.data[k]), 0, D));
    const capped = apgUpdate(c, u, apgOf({ normThreshold: norm / 4 }), {}, 1);
    expect(Math.sqrt(dot(capped, capped, 0, D))).toBeCloseTo(norm / 4, 4);
    capped.forEach((v, k) => expect(v).toBeCloseTo((c.data[k] - u.data[k]) / 4, 5));
    const loose = apgUpdate(c, u, apgOf({ normThreshold: norm * 2 }), {}, 1);
    loose.forEach((v, k) => expect(v).toBeCloseTo(c.data[k] - u.data[k], 5));
  });

  it('APG momentum keeps r = diff + momentum * r over the calls; the comfyui convention restarts it when the level rises', () => {
    const conds = [t(71), t(72), t(73)];
    const unconds = [t(74), t(75), t(76)];
    const d = conds.map((c, i) => Float64Array.from(c.data, (v, k) => v - unconds[i].data[k]));
    const m = -0.5;
    const state: ApgState = {};
    const r1 = apgUpdate(conds[0], unconds[0], apgOf({ momentum: m }), state, 3);
    const r2 = apgUpdate(conds[1], unconds[1], apgOf({ momentum: m }), state, 2);
    const r3 = apgUpdate(conds[2], unconds[2], apgOf({ momentum: m }), state, 1);
    const e2 = d[1].map((v, k) => v + m * d[0][k]);
    const e3 = d[2].map((v, k) => v + m * e2[k]);
    expect(relL2(r1, d[0])).toBeLessThan(1e-6);
    expect(relL2(r2, e2)).toBeLessThan(1e-6);
    expect(relL2(r3, e3)).toBeLessThan(1e-6);
    // A rising level (a new run, or an inversion step): ComfyUI's node starts over, diffusers' buffer does not.
    const comfy: ApgState = {};
    apgUpdate(conds[0], unconds[0], apgOf({ convention: 'comfyui', momentum: m }), comfy, 1);
    const restarted = apgUpdate(conds[1], unconds[1], apgOf({ convention: 'comfyui', momentum: m }), comfy, 2);
    expect(relL2(restarted, d[1])).toBeLessThan(1e-6);
    const kept: ApgState = {};
    apgUpdate(conds[0], unconds[0], apgOf({ momentum: m }), kept, 1);
    expect(relL2(apgUpdate(conds[1], unconds[1], apgOf({ momentum: m }), kept, 2), e2)).toBeLessThan(1e-6);
  });

  it('a plain-CFG start (AdaptiveProjectedMixGuidance): the first calls are uncond + startScale (cond - uncond), the momentum average takes them, APG after', () => {
    const conds = [t(91), t(92), t(93)];
    const unconds = [t(94, 0.5), t(95, 0.5), t(96, 0.5)];
    const d = conds.map((c, i) => Float64Array.from(c.data, (v, k) => v - unconds[i].data[k]));
    const m = -0.5;
    const settings = { scale: 9, apg: apgOf({ momentum: m, start: 2, startScale: 3 }) };
    const state: ApgState = {};
    for (let i = 0; i < 2; i++) {
      const out = combineCfg(conds[i], unconds[i], settings, { state, sigma: 3 - i });
      expect(relL2(out.data, Float64Array.from(conds[i].data, (c, k) => unconds[i].data[k] + 3 * (c - unconds[i].data[k])))).toBeLessThan(1e-6);
    }
    // Third call: APG (eta 1, no cap) on r3 = d3 + m (d2 + m d1), at scale 9.
    const r = d[2].map((v, k) => v + m * (d[1][k] + m * d[0][k]));
    const third = combineCfg(conds[2], unconds[2], settings, { state, sigma: 1 });
    expect(relL2(third.data, Float64Array.from(r, (v, k) => unconds[2].data[k] + 9 * v))).toBeLessThan(1e-6);
    expect(() => combineCfg(conds[0], unconds[0], { scale: 9, apg: apgOf({ convention: 'comfyui', start: 1, startScale: 2 }) }, { state: {}, sigma: 1 })).toThrow(/needs the diffusers convention/);
    expect(() => combineCfg(conds[0], unconds[0], { scale: 9, apg: apgOf({ start: 1.5, startScale: 2 }) }, { state: {}, sigma: 1 })).toThrow(/whole number/);
  });

  it('APG at scale 1: diffusers turns itself off (the conditional prediction, also with rescale or CFG++); ComfyUI rewrites cond against zeros in one call', async () => {
    const x = t(101, 2);
    const { kind, condOut, condFn, uncondFn, counter } = fixedPair(102, 103);
    const level = { sigma: 1.5, timestep: 500 };
    const diffusers = apgOf({ eta: 0, normThreshold: 1 });
    for (const [rescale, keep] of [[0.7, false], [0, true], [0.7, true]] as const) {
      const pred = await cfgDenoiseFn(condFn, uncondFn, { scale: 1, rescale, apg: diffusers }, kind, keep)(x, level);
      expect(relL2(pred.eps.data, condOut.data)).toBeLessThan(1e-6);
    }
    // ComfyUI at cfg 1: no unconditional call; APG against zeros: cond + update(cond, 0) = (1 + eta) cond in x0 (no cap).
    counter.uncond = 0;
    const comfy = cfgDenoiseFn(condFn, uncondFn, { scale: 1, apg: apgOf({ convention: 'comfyui', eta: 0.5 }) }, kind);
    const pred = await comfy(x, level);
    expect(counter.uncond).toBe(0);
    const c0 = predictionFromOutput(condOut, x, level.sigma, 'vp', 'epsilon').denoised;
    expect(relL2(pred.denoised.data, c0.data.map((v) => 1.5 * v))).toBeLessThan(1e-6);
    // No unconditional x0 rides along (ComfyUI's post-CFG hook sees none): a CFG++ solver reads the guided one.
    expect(pred.uncondDenoised).toBeUndefined();
    // ...which it cannot do at level 0, where x0 is the sample itself.
    await expect(cfgDenoiseFn(condFn, uncondFn, { scale: 3, apg: apgOf({ convention: 'comfyui' }) }, kind)(x, { sigma: 0, timestep: 0 })).rejects.toThrow(/level 0/);
  });

  it("the Mix guider's edge scales: APG scale 1 leaves its plain CFG on every call; start scale 1 turns all guidance off", async () => {
    const x = t(111, 2);
    const { kind, condOut, uncondOut, condFn, uncondFn, counter } = fixedPair(112, 113);
    const mix = (scale: number, startScale: number) => cfgDenoiseFn(condFn, uncondFn, { scale, apg: apgOf({ eta: 0, normThreshold: 1, momentum: -0.5, start: 1, startScale }) }, kind);
    const plain = Float64Array.from(condOut.data, (c, k) => uncondOut.data[k] + 4 * (c - uncondOut.data[k]));
    const fn = mix(1, 4);
    for (let i = 0; i < 3; i++) expect(relL2((await fn(x, { sigma: 2 - i * 0.5, timestep: 700 })).eps.data, plain)).toBeLessThan(1e-6);
    counter.uncond = 0;
    const off = mix(8, 1);
    for (let i = 0; i < 3; i++) expect(relL2((await off(x, { sigma: 2 - i * 0.5, timestep: 700 })).eps.data, condOut.data)).toBeLessThan(1e-6);
    expect(counter.uncond).toBe(0);
  });

  it('a guided range of steps (diffusers guiders\' start / stop): the conditional prediction outside it, one call there; the Mix start counts every call', async () => {
    const x = t(121, 2);
    const { kind, condOut, uncondOut, condFn, uncondFn, counter } = fixedPair(122, 123);
    const cfgAt = (w: number) => Float64Array.from(condOut.data, (c, k) => uncondOut.data[k] + w * (c - uncondOut.data[k]));
    // The sampler's step in progress: `perStep` model calls per step.
    let step = 0;
    const range = (from: number, to: number) => ({ from, to, step: () => step });
    const run = async (fn: DenoiseFn, n: number, perStep = 1) => {
      const outs: Float32Array[] = [];
      for (let i = 0; i < n; i++) {
        step = Math.floor(i / perStep);
        outs.push((await fn(x, { sigma: 3 - i * 0.3, timestep: 900 - i * 90 })).eps.data);
      }
      return outs;
    };
    // Plain CFG guided on steps 2, 3, 4 of 8.
    const plain = await run(cfgDenoiseFn(condFn, uncondFn, { scale: 5, guidedSteps: range(2, 5) }, kind), 8);
    plain.forEach((out, i) => expect(relL2(out, i >= 2 && i < 5 ? cfgAt(5) : condOut.data)).toBeLessThan(1e-6));
    expect(counter.uncond).toBe(3);
    // Two calls per step (Heun): both calls of steps 2, 3 and 4 are guided, calls 4 to 9.
    const twoCalls = await run(cfgDenoiseFn(condFn, uncondFn, { scale: 5, guidedSteps: range(2, 5) }, kind), 12, 2);
    twoCalls.forEach((out, i) => expect(relL2(out, i >= 4 && i < 10 ? cfgAt(5) : condOut.data)).toBeLessThan(1e-6));
    // The Mix guider (start 3: plain CFG on calls 0..2) guided from step 2: call 2 is its plain CFG at the start
    // scale, calls 3 and 4 its APG (eta 1, no cap: the difference at the APG scale).
    const mix = await run(cfgDenoiseFn(condFn, uncondFn, { scale: 9, apg: apgOf({ start: 3, startScale: 2 }), guidedSteps: range(2, 5) }, kind), 6);
    const expected = [condOut.data, condOut.data, cfgAt(2), cfgAt(9), cfgAt(9), condOut.data];
    mix.forEach((out, i) => expect(relL2(out, expected[i])).toBeLessThan(1e-6));
    // The batched form takes the conditional model for the calls outside the range, and needs it.
    const pair: DenoiseFn = async (xs, level) => predictionFromOutput(concatBatch([uncondOut, condOut]), xs, level.sigma, 'vp', 'epsilon');
    const batched = await run(batchedCfgDenoiseFn(pair, { scale: 5, guidedSteps: range(2, 5) }, kind, condFn), 8);
    batched.forEach((out, i) => expect(relL2(out, plain[i])).toBeLessThan(1e-6));
    expect(() => batchedCfgDenoiseFn(pair, { scale: 5, guidedSteps: range(2, 5) }, kind)).toThrow(/needs the conditional model/);
    expect(() => cfgDenoiseFn(condFn, uncondFn, { scale: 5, guidedSteps: range(2, 5) }, kind, true)).toThrow(/CFG\+\+/);
    expect(() => cfgDenoiseFn(condFn, uncondFn, { scale: 5, guidedSteps: range(3, 2) }, kind)).toThrow(/from <= to/);
  });

  it("APG momentum outside the guided steps: diffusers' guiders leave the running average alone there", async () => {
    const x = t(131, 2);
    const conds = [t(132), t(133), t(134)];
    const unconds = [t(135, 0.5), t(136, 0.5), t(137, 0.5)];
    let call = 0;
    const condFn: DenoiseFn = async (xs, level) => predictionFromOutput(conds[call], xs, level.sigma, 'vp', 'epsilon');
    const uncondFn: DenoiseFn = async (xs, level) => predictionFromOutput(unconds[call], xs, level.sigma, 'vp', 'epsilon');
    const kind = { space: 'vp' as const, type: 'epsilon' as const };
    const m = -0.5;
    // Step 0 outside the range: the average takes d1 and d2 only, r = d2 + m d1 (not d2 + m d1 + m^2 d0).
    let step = 0;
    const fn = cfgDenoiseFn(condFn, uncondFn, { scale: 4, apg: apgOf({ momentum: m }), guidedSteps: { from: 1, to: 3, step: () => step } }, kind);
    const outs: Float32Array[] = [];
    for (call = 0; call < 3; call++) {
      step = call;
      outs.push((await fn(x, { sigma: 2, timestep: 500 })).eps.data);
    }
    expect(relL2(outs[0], conds[0].data)).toBeLessThan(1e-6);
    const d = conds.map((c, i) => Float64Array.from(c.data, (v, k) => v - unconds[i].data[k]));
    const r = d[2].map((v, k) => v + m * d[1][k]);
    expect(relL2(outs[2], Float64Array.from(r, (v, k) => unconds[2].data[k] + 4 * v))).toBeLessThan(1e-6);
  });

  it('APG settings are checked: the comfyui convention (on x0) refuses rescale and renormalization', () => {
    const c = t(81);
    const u = t(82);
    expect(() => combineCfg(c, u, { scale: 3, rescale: 0.5, apg: apgOf({ convention: 'comfyui' }) }, { state: {}, sigma: 1 })).toThrow(/comfyui convention works on x0/);
    expect(() => combineCfg(c, u, { scale: 3, apg: apgOf({ normThreshold: -1 }) }, { state: {}, sigma: 1 })).toThrow(/norm threshold/);
    expect(() => combineCfg(c, u, { scale: 3, apg: apgOf({ eta: Number.NaN }) }, { state: {}, sigma: 1 })).toThrow(/eta/);
    expect(() => combineCfg(c, u, { scale: 3, apg: apgOf() })).toThrow(/running state/);
  });

  it('batch helpers stack and split along the leading axis', () => {
    const a = t(1);
    const b = t(2);
    const ab = concatBatch([a, b]);
    expect(ab.dims).toEqual([2, 3, 8, 8]);
    const [a2, b2] = splitBatch(ab, 2);
    expect([...a2.data]).toEqual([...a.data]);
    expect([...b2.data]).toEqual([...b.data]);
  });
});

describe('Sampler with the CFG node', () => {
  const cw = (w: number, neg: Tensor) => new Tensor(DIMS, C_POS.data.map((v, k) => neg.data[k] + w * (v - neg.data[k])));

  it('guided sampling equals the model conditioned on c_uncond + w (c_cond - c_uncond) (exact for this affine model)', async () => {
    const w = 3.5;
    const guided = await sample(conditionalModel(), cond(C_POS), await cfgGuidance(w, C_NEG));
    const direct = await sample(conditionalModel(), cond(cw(w, C_NEG)), undefined);
    expect(relL2(guided.latent.data, direct.latent.data)).toBeLessThan(1e-5);
    // Guidance matters: the conditional run alone is far from it.
    const plain = await sample(conditionalModel(), cond(C_POS), undefined);
    expect(relL2(guided.latent.data, plain.latent.data)).toBeGreaterThan(0.05);
  });

  it('one batched call or two separate calls per step give the same result; scale 1 makes one plain call', async () => {
    const batchedModel = conditionalModel();
    const a = await sample(batchedModel, cond(C_POS), await cfgGuidance(2, C_NEG, 'auto'));
    expect(batchedModel.calls).toBe(12);
    const separateModel = conditionalModel();
    const b = await sample(separateModel, cond(C_POS), await cfgGuidance(2, C_NEG, 'separate'));
    expect(separateModel.calls).toBe(24);
    expect(relL2(a.latent.data, b.latent.data)).toBeLessThan(1e-6);
    // A model with a fixed batch of 1 cannot take [uncond; cond]: auto falls back to two calls.
    const fixed = conditionalModel({ fixedBatch: true });
    const c = await sample(fixed, cond(C_POS), await cfgGuidance(2, C_NEG));
    expect(fixed.calls).toBe(24);
    expect(relL2(c.latent.data, a.latent.data)).toBeLessThan(1e-6);
    await expect(sample(conditionalModel({ fixedBatch: true }), cond(C_POS), await cfgGuidance(2, C_NEG, 'batched'))).rejects.toThrow(/free batch size/);
    const one = conditionalModel();
    const d = await sample(one, cond(C_POS), await cfgGuidance(1, C_NEG));
    expect(one.calls).toBe(12);
    const plain = await sample(conditionalModel(), cond(C_POS), undefined);
    expect([...d.latent.data]).toEqual([...plain.latent.data]);
  });

  it('an unconnected negative is zeros of the positive conditioning\'s shapes', async () => {
    const guided = await sample(conditionalModel(), cond(C_POS), await cfgGuidance(2.5));
    const direct = await sample(conditionalModel(), cond(cw(2.5, Tensor.zeros(DIMS))), undefined);
    expect(relL2(guided.latent.data, direct.latent.data)).toBeLessThan(1e-5);
  });

  it('CFG rescale runs through the Sampler and changes the result only when phi > 0', async () => {
    const a = await sample(conditionalModel(), cond(C_POS), await cfgGuidance(6, C_NEG, 'auto', 0));
    const b = await sample(conditionalModel(), cond(C_POS), await cfgGuidance(6, C_NEG, 'auto', 0.7));
    expect(relL2(a.latent.data, b.latent.data)).toBeGreaterThan(1e-3);
    expect(b.latent.firstNonFinite()).toBe(-1);
  });

  it('APG through the Sampler: eta 1 without cap or momentum is CFG (diffusers) or CFG at scale + 1 (comfyui); batched and separate agree', async () => {
    const apg = (scale: number, more: Record<string, unknown>, mode: 'auto' | 'separate' = 'auto') =>
      cfgGuidance(scale, C_NEG, mode, 0, { method: 'apg', apg_norm_threshold: 0, ...more } as Partial<Parameters<typeof CFG.execute>[2]>);
    const plain = await sample(conditionalModel(), cond(C_POS), await cfgGuidance(4, C_NEG));
    const diffusersApg = await sample(conditionalModel(), cond(C_POS), await apg(4, {}));
    expect(relL2(diffusersApg.latent.data, plain.latent.data)).toBeLessThan(1e-5);
    const plain5 = await sample(conditionalModel(), cond(C_POS), await cfgGuidance(5, C_NEG));
    const comfyApg = await sample(conditionalModel(), cond(C_POS), await apg(4, { apg_convention: 'comfyui' }));
    expect(relL2(comfyApg.latent.data, plain5.latent.data)).toBeLessThan(1e-5);
    // The projection changes the run; one batched call or two separate calls give the same guided run.
    const projected = await apg(6, { apg_eta: 0, apg_norm_threshold: 5, apg_momentum: -0.5 });
    const a = await sample(conditionalModel(), cond(C_POS), projected);
    const b = await sample(conditionalModel(), cond(C_POS), await apg(6, { apg_eta: 0, apg_norm_threshold: 5, apg_momentum: -0.5 }, 'separate'));
    expect(relL2(a.latent.data, b.latent.data)).toBeLessThan(1e-6);
    const cfg6 = await sample(conditionalModel(), cond(C_POS), await cfgGuidance(6, C_NEG));
    expect(relL2(a.latent.data, cfg6.latent.data)).toBeGreaterThan(1e-3);
    expect(a.latent.firstNonFinite()).toBe(-1);
    await expect(sample(conditionalModel(), cond(C_POS), await apg(6, { apg_convention: 'comfyui', normalize: 'rows' }))).rejects.toThrow(/comfyui convention works on x0/);
    await expect(sample(conditionalModel(), cond(C_POS), { kind: 'cfg', params: { scale: 3, method: 'pag' } })).rejects.toThrow(/method must be one of cfg, apg/);
  });

  it('a step range guides floor(start N) <= step < floor(stop N) only: one call on the others, and an empty range is the plain run', async () => {
    const ranged = conditionalModel();
    const a = await sample(ranged, cond(C_POS), await cfgGuidance(3, C_NEG, 'separate', 0, { start: 0.25, stop: 0.75 }));
    // 12 steps: calls 3..8 guided (two calls each), the rest one call.
    expect(ranged.calls).toBe(12 + 6);
    const batched = conditionalModel();
    const b = await sample(batched, cond(C_POS), await cfgGuidance(3, C_NEG, 'batched', 0, { start: 0.25, stop: 0.75 }));
    expect(batched.calls).toBe(12);
    expect(relL2(a.latent.data, b.latent.data)).toBeLessThan(1e-6);
    const full = await sample(conditionalModel(), cond(C_POS), await cfgGuidance(3, C_NEG));
    const plain = await sample(conditionalModel(), cond(C_POS), undefined);
    expect(relL2(a.latent.data, full.latent.data)).toBeGreaterThan(1e-4);
    expect(relL2(a.latent.data, plain.latent.data)).toBeGreaterThan(1e-4);
    const none = conditionalModel();
    const c = await sample(none, cond(C_POS), await cfgGuidance(3, C_NEG, 'auto', 0, { start: 0.5, stop: 0.5 }));
    expect(none.calls).toBe(12);
    expect([...c.latent.data]).toEqual([...plain.latent.data]);
    // An empty-by-order range is the CFG node's own error (it holds for any model).
    await expect(cfgGuidance(3, C_NEG, 'auto', 0, { start: 0.6, stop: 0.5 })).rejects.toThrow(/0 <= start <= stop <= 1/);
    // Heun (two calls a step, one on the last): steps 3..8 guided, both their calls.
    const heun = conditionalModel();
    await sample(heun, cond(C_POS), await cfgGuidance(3, C_NEG, 'separate', 0, { start: 0.25, stop: 0.75 }), { solver: 'heun' });
    expect(heun.calls).toBe(23 + 12);
  });

  it('the CFG node refuses settings wrong for any model; the Sampler marks its guidance input for settings this model cannot take', async () => {
    await expect(cfgGuidance(3, C_NEG, 'auto', 0, { method: 'apg', apg_convention: 'comfyui', apg_start: 2 })).rejects.toThrow(/plain-CFG start .* needs the diffusers convention/);
    // Truncation is for flow models; this one is VP.
    const truncated = await cfgGuidance(3, C_NEG, 'auto', 0, { truncate: 0.5 });
    await expect(sample(conditionalModel(), cond(C_POS), truncated)).rejects.toMatchObject({
      name: 'NodeInputError',
      port: 'guidance',
      message: expect.stringMatching(/^CFG truncation \(guide until\) applies to flow models only/),
    });
  });

  it("settings from the model: its guider config replaces the node's scale, APG and step range", async () => {
    const guided = (guider: Record<string, unknown> | undefined) => Object.assign(conditionalModel(), guider ? { guiders: { guider } } : {});
    const fromModel = await cfgGuidance(9, C_NEG, 'auto', 0, { settings_from: 'model' });
    const same = async (guider: Record<string, unknown>, node: Partial<Parameters<typeof CFG.execute>[2]>) => {
      const a = await sample(guided(guider), cond(C_POS), fromModel);
      const b = await sample(conditionalModel(), cond(C_POS), await cfgGuidance(node.scale ?? 7.5, C_NEG, 'auto', node.rescale ?? 0, node));
      expect([...a.latent.data]).toEqual([...b.latent.data]);
    };
    await same({ _class_name: 'ClassifierFreeGuidance', guidance_scale: 2.5, use_original_formulation: true, guidance_rescale: 0.3, stop: 0.5 }, { scale: 3.5, rescale: 0.3, stop: 0.5 });
    await same(
      { _class_name: 'AdaptiveProjectedMixGuidance', adaptive_projected_guidance_start_step: 2 },
      { scale: 10, method: 'apg', apg_eta: 0, apg_norm_threshold: 10, apg_momentum: -0.5, apg_start: 3, apg_start_scale: 3.5 },
    );
    // Guidance is on: the guided run is not the conditional one; a disabled guider is.
    const plain = await sample(conditionalModel(), cond(C_POS), undefined);
    const on = await sample(guided({ _class_name: 'ClassifierFreeGuidance', guidance_scale: 4 }), cond(C_POS), fromModel);
    expect(relL2(on.latent.data, plain.latent.data)).toBeGreaterThan(0.01);
    const off = guided({ _class_name: 'ClassifierFreeGuidance', enabled: false });
    expect([...(await sample(off, cond(C_POS), fromModel)).latent.data]).toEqual([...plain.latent.data]);
    expect(off.calls).toBe(12);
    await expect(sample(guided(undefined), cond(C_POS), fromModel)).rejects.toThrow(/model cond has no guider\/guider_config.json; set "Settings from" to node/);
    await expect(sample(guided({ _class_name: 'SkipLayerGuidance' }), cond(C_POS), fromModel)).rejects.toThrow(/cond: guider\/guider_config.json: guider SkipLayerGuidance is not supported/);
  });

  it("HunyuanImagePipeline's guider choice: the ocr_guider when the ByT5 embeddings are not all zeros", () => {
    const model = Object.assign(conditionalModel(), { guiders: { guider: { _class_name: 'ClassifierFreeGuidance' }, ocr_guider: { _class_name: 'AdaptiveProjectedMixGuidance' } } });
    const byt5 = (v: number) => new Tensor([1, 4, 2], new Float32Array(8).fill(v));
    expect(modelGuider(model, { encoder_hidden_states_2: byt5(0) }).config._class_name).toBe('ClassifierFreeGuidance');
    expect(modelGuider(model, { encoder_hidden_states_2: byt5(0.5) }).where).toBe('cond: ocr_guider/guider_config.json');
    expect(modelGuider(model, {}).config._class_name).toBe('ClassifierFreeGuidance');
    expect(modelGuider({ ...model, guiders: { guider: model.guiders.guider } }, { encoder_hidden_states_2: byt5(1) }).config._class_name).toBe('ClassifierFreeGuidance');
  });

  it('explains what is missing: an unconditional model, no positive conditioning, a negative without a feed', async () => {
    const g = await cfgGuidance(3, C_NEG);
    await expect(sample(fakeVpModel(p), undefined, g)).rejects.toThrow(/needs a conditional model/);
    await expect(sample(conditionalModel(), undefined, g)).rejects.toThrow(/connect the Sampler's conditioning input/);
    const bad: Guidance = { kind: 'cfg', params: { scale: 3, negative: { feeds: { other: C_NEG } } } };
    await expect(sample(conditionalModel(), cond(C_POS), bad)).rejects.toThrow(/no "class_shift"/);
    await expect(sample(conditionalModel(), cond(C_POS), { kind: 'pag', params: {} })).rejects.toThrow(/"pag" is not supported/);
  });

  it('the CFG node declares its port and params and emits a cfg GUIDANCE', async () => {
    expect(CFG.type).toBe('CFG');
    expect(CFG.inputs.negative.optional).toBe(true);
    expect(CFG.outputs.guidance.type).toBe('GUIDANCE');
    const g = await cfgGuidance(4, C_NEG, 'separate', 0.5);
    expect(g.kind).toBe('cfg');
    expect(g.params).toMatchObject({ scale: 4, rescale: 0.5, mode: 'separate' });
    expect((g.params.negative as Conditioning).feeds.class_shift.dims).toEqual([1, D]);
  });
});
