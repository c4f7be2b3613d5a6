/**
 * Classifier-free guidance as a DenoiseFn wrapper (Ho & Salimans 2022, as diffusers pipelines apply it):
 *   out = out_uncond + scale * (out_cond - out_uncond)
 * on the model output, from two model calls (conditional / unconditional) or one call on a batch that
 * stacks [uncond; cond] (diffusers' layout). Every Prediction field is an affine function of the raw model
 * output with weights that do not depend on it, and the CFG weights (1 - scale, scale) sum to 1, so
 * combining the Predictions field by field equals converting the combined raw output.
 * Optional rescale (Lin et al. 2024, diffusers rescale_noise_cfg): out_r = out * std(out_cond)/std(out) per
 * sample, then phi * out_r + (1 - phi) * out; optional renormalization (Lumina 2, Z-Image). Both act on the
 * raw output (eps, x0, v or flow velocity), so the wrapper needs the model's output type to recover it from
 * the Prediction.
 *
 * Adaptive projected guidance (APG, Sadat et al. 2024) replaces the difference cond - uncond by an update
 * built from it: an optional momentum running average, a cap on its norm, and its component parallel to the
 * conditional prediction weighted by eta (the orthogonal one kept whole), all per sample. Two conventions:
 * diffusers' AdaptiveProjectedGuidance works on the raw model output and gives uncond + scale * update;
 * ComfyUI's APG node works on x0 (the denoised prediction) and, through its CFG, gives cond + scale * update.
 */
import { Tensor } from '../core/tensor.ts';
import type { SigmaSpace } from '../core/values.ts';
import { DeferredPrediction } from './deferred-prediction.ts';
import { predictionFromOutput, type PredictionType } from './denoiser.ts';
import { linearCombination } from './ops.ts';
import type { DenoiseFn, ModelLevel, Prediction } from './solver.ts';

export const CFG_NORMALIZATIONS = ['off', 'rows', 'rows-down', 'clamp'] as const;
export type CfgNormalization = (typeof CFG_NORMALIZATIONS)[number];

export const APG_CONVENTIONS = ['diffusers', 'comfyui'] as const;
export type ApgConvention = (typeof APG_CONVENTIONS)[number];

export interface ApgSettings {
  /** diffusers: on the raw output, uncond + scale * update; comfyui: on x0, cond + scale * update. */
  convention: ApgConvention;
  /** Weight of the update's component parallel to the conditional prediction (1 keeps it whole). */
  eta: number;
  /** Per sample, the update's norm is capped at this (0: no cap). diffusers' adaptive_projected_guidance_rescale. */
  normThreshold: number;
  /** Running average r <- diff + momentum * r over the model evaluations (0: off). */
  momentum: number;
  /**
   * diffusers' AdaptiveProjectedMixGuidance (HunyuanImage 2.1): the first `start` model evaluations use plain
   * CFG at `startScale` (the momentum average still takes their differences), APG after (0: APG throughout).
   */
  start?: number;
  startScale?: number;
}

export interface CfgSettings {
  /** Guidance scale w (1 = the conditional model alone). */
  scale: number;
  /** Adaptive projected guidance instead of the plain difference (undefined: plain CFG). */
  apg?: ApgSettings;
  /** CFG rescale phi in [0, 1] (0 = off). */
  rescale?: number;
  /**
   * Renormalization of the guided output (after the rescale), as the pipelines that ship one do it:
   * 'rows' (Lumina2Pipeline's cfg_normalization, QwenImage's and NucleusMoE's true-CFG renorm): each row along
   * the last axis scaled to the conditional output's norm; 'rows-down' (LongCat-Image's cfg_renorm): the same
   * ratio clamped to [renormMin, 1], so rows only shrink; 'clamp' (ZImagePipeline cfg_normalization k): a
   * sample whose norm exceeds k times the conditional output's is scaled down to it.
   */
  normalize?: CfgNormalization;
  /** The k of 'clamp' normalization (> 0). */
  normLimit?: number;
  /** The lower bound of 'rows-down' scales, in [0, 1] (LongCat-Image's cfg_renorm_min, default 0). */
  renormMin?: number;
  /**
   * Only the evaluations of solver steps from <= step < to are guided (`step()`: the step in progress, from the
   * sampler); the others get the conditional prediction alone, as diffusers' guiders outside their start / stop.
   * The APG start still counts their model calls. Undefined: every evaluation.
   */
  guidedSteps?: { from: number; to: number; step: () => number };
}

/** What the rescale needs to go from a Prediction back to the raw output and forth. */
export interface OutputKind {
  space: SigmaSpace;
  type: PredictionType;
}

function checkSettings(s: CfgSettings): void {
  if (!Number.isFinite(s.scale)) throw new Error(`CFG: scale must be a finite number, got ${s.scale}`);
  const phi = s.rescale ?? 0;
  if (!(phi >= 0 && phi <= 1)) throw new Error(`CFG: rescale must be in [0, 1], got ${phi}`);
  const n = s.normalize ?? 'off';
  if (!CFG_NORMALIZATIONS.includes(n)) throw new Error(`CFG: normalize must be one of ${CFG_NORMALIZATIONS.join(', ')}, got ${JSON.stringify(n)}`);
  const m = s.renormMin ?? 0;
  if (n === 'rows-down' && !(m >= 0 && m <= 1)) throw new Error(`CFG: the rows-down lower bound must be in [0, 1], got ${m}`);
  if (n === 'clamp' && !((s.normLimit ?? 1) > 0)) throw new Error(`CFG: the clamp normalization limit must be positive, got ${s.normLimit}`);
  if (s.apg) checkApg(s.apg, s);
  const r = s.guidedSteps;
  if (r && !(Number.isInteger(r.from) && Number.isInteger(r.to) && r.from >= 0 && r.to >= r.from && typeof r.step === 'function')) {
    throw new Error(`CFG: the guided steps must be a range of whole numbers from <= to, with the step in progress, got ${r.from} to ${r.to}`);
  }
}

/**
 * `guided` on the evaluations of the steps settings.guidedSteps allows, `cond` alone on the others (the APG
 * call count advanced all the same, as diffusers' step index is).
 */
function withinGuidedSteps(guided: DenoiseFn, cond: DenoiseFn, settings: CfgSettings, apg: ApgState): DenoiseFn {
  const range = settings.guidedSteps;
  if (!range) return guided;
  return (x, level) => {
    const step = range.step();
    if (step >= range.from && step < range.to) return guided(x, level);
    if (settings.apg) apg.calls = (apg.calls ?? 0) + 1;
    return cond(x, level);
  };
}

function checkApg(a: ApgSettings, s: CfgSettings): void {
  checkApgSettings(a);
  // ComfyUI's APG works on x0 and has no output rescale or renormalization: those are diffusers' rules on the raw output.
  if (a.convention === 'comfyui' && onRawOutputs(s)) throw new Error('APG with the comfyui convention works on x0: set rescale to 0 and renormalize to off, or use the diffusers convention');
}

/** The APG settings on their own (what holds for any model): the CFG node checks them when it runs. */
export function checkApgSettings(a: ApgSettings): void {
  if (!APG_CONVENTIONS.includes(a.convention)) throw new Error(`APG: convention must be one of ${APG_CONVENTIONS.join(', ')}, got ${JSON.stringify(a.convention)}`);
  if (!Number.isFinite(a.eta)) throw new Error(`APG: eta must be a finite number, got ${a.eta}`);
  if (!(a.normThreshold >= 0 && Number.isFinite(a.normThreshold))) throw new Error(`APG: the norm threshold must be a finite number >= 0, got ${a.normThreshold}`);
  if (!Number.isFinite(a.momentum)) throw new Error(`APG: momentum must be a finite number, got ${a.momentum}`);
  const start = a.start ?? 0;
  if (!(Number.isInteger(start) && start >= 0)) throw new Error(`APG: the plain-CFG start must be a whole number of model calls >= 0, got ${start}`);
  if (start > 0 && a.convention !== 'diffusers') throw new Error('APG: a plain-CFG start (diffusers\' AdaptiveProjectedMixGuidance) needs the diffusers convention');
  if (start > 0 && !Number.isFinite(a.startScale ?? Number.NaN)) throw new Error(`APG: the plain-CFG start needs a finite scale, got ${a.startScale}`);
}

/** Python's math.isclose with its default tolerance: how diffusers' guiders test a scale against 1. */
function isClose(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Whether these settings guide the model to its conditional prediction alone, so that the unconditional call
 * can be skipped: plain CFG at scale 1 without rescale; diffusers' APG at scale 1 (it turns itself off); its Mix
 * guider at a start scale of 1 (its CFG is off, and APG with it). ComfyUI's APG never: at cfg 1 it still
 * rewrites the conditional prediction, against zeros (cfgDenoiseFn).
 */
export function conditionalOnly(settings: CfgSettings): boolean {
  const apg = settings.apg;
  if (!apg) return settings.scale === 1 && !(settings.rescale ?? 0);
  if (apg.convention === 'comfyui') return false;
  return (apg.start ?? 0) > 0 ? isClose(apg.startScale ?? Number.NaN, 1) : isClose(settings.scale, 1);
}

/**
 * An APG run's state: the momentum running average, and (ComfyUI) the last level, since ComfyUI's node starts
 * the average over whenever the level rises (a new run through the same model).
 */
export interface ApgState {
  running?: Float64Array;
  lastSigma?: number;
  /** Model evaluations guided so far (the plain-CFG start counts them). */
  calls?: number;
}

/**
 * The APG update from the conditional and unconditional outputs (both raw, or both x0), per sample (the
 * leading axis): diff = cond - uncond, or the momentum average of it; capped at normThreshold; then
 * orthogonal(diff, cond) + eta * parallel(diff, cond). In float64, as diffusers projects.
 */
export function apgUpdate(cond: Tensor, uncond: Tensor, apg: ApgSettings, state: ApgState, sigma: number): Float64Array {
  if (!cond.sameShape(uncond)) throw new Error(`APG: conditional ${cond.shapeString()} and unconditional ${uncond.shapeString()} outputs differ in shape`);
  if (apg.convention === 'comfyui' && state.lastSigma !== undefined && sigma > state.lastSigma) state.running = undefined;
  state.lastSigma = sigma;
  const n = cond.size;
  const diff = averagedDifference(cond, uncond, apg, state);
  const batch = cond.dims.length > 1 ? cond.dims[0] : 1;
  const per = n / batch;
  for (let b = 0; b < batch; b++) {
    const lo = b * per;
    const hi = lo + per;
    if (apg.normThreshold > 0) {
      let dd = 0;
      for (let k = lo; k < hi; k++) dd += diff[k] * diff[k];
      const f = Math.min(1, apg.normThreshold / Math.sqrt(dd));
      for (let k = lo; k < hi; k++) diff[k] *= f;
    }
    // torch.nn.functional.normalize: cond / max(||cond||, 1e-12).
    let cc = 0;
    let dc = 0;
    for (let k = lo; k < hi; k++) {
      cc += cond.data[k] * cond.data[k];
      dc += diff[k] * cond.data[k];
    }
    const norm = Math.max(Math.sqrt(cc), 1e-12);
    const along = dc / (norm * norm);
    for (let k = lo; k < hi; k++) {
      const parallel = along * cond.data[k];
      diff[k] = diff[k] - parallel + apg.eta * parallel;
    }
  }
  return diff;
}

/** cond - uncond, or (momentum) the running average r <- diff + momentum * r, which the state keeps. A fresh array. */
function averagedDifference(cond: Tensor, uncond: Tensor, apg: ApgSettings, state: ApgState): Float64Array {
  const diff = Float64Array.from(cond.data, (c, k) => c - uncond.data[k]);
  if (apg.momentum === 0) return diff;
  const r = state.running;
  if (r) for (let k = 0; k < diff.length; k++) diff[k] += apg.momentum * r[k];
  state.running = diff;
  return Float64Array.from(diff);
}

/**
 * The APG-guided output (raw for diffusers, x0 for comfyui): base + scale * update, base = uncond or cond. During
 * a plain-CFG start, uncond + startScale (cond - uncond), the momentum average taking the difference all the same.
 */
function combineApg(cond: Tensor, uncond: Tensor, settings: CfgSettings, state: ApgState, sigma: number): Tensor {
  const apg = settings.apg!;
  const call = state.calls ?? 0;
  state.calls = call + 1;
  if (apg.convention === 'diffusers' && conditionalOnly(settings)) return cond;
  // The Mix guider's start, or all of it when its APG scale is 1 (APG off, its plain CFG on).
  const start = apg.start ?? 0;
  if (start > 0 && (call < start || isClose(settings.scale, 1))) {
    averagedDifference(cond, uncond, apg, state);
    const w = apg.startScale!;
    return new Tensor(cond.dims, Float32Array.from(cond.data, (c, k) => uncond.data[k] + w * (c - uncond.data[k])));
  }
  const update = apgUpdate(cond, uncond, apg, state, sigma);
  const base = apg.convention === 'diffusers' ? uncond : cond;
  return new Tensor(cond.dims, Float32Array.from(update, (u, k) => base.data[k] + settings.scale * u));
}

/** Whether the CFG rule needs the raw model outputs (rescale or renormalization), not only the Predictions. */
function onRawOutputs(s: CfgSettings): boolean {
  return (s.rescale ?? 0) > 0 || (s.normalize ?? 'off') !== 'off';
}

/**
 * Lumina2Pipeline's cfg_normalization (QwenImage's and NucleusMoE's true-CFG renorm too): guided * ||cond|| / ||guided|| per row along the last axis (torch.norm
 * with dim=-1). A row whose guided norm is 0 is left as is (torch would give NaN).
 */
function normalizeRows(guided: Tensor, cond: Tensor, down?: { min: number }): Tensor {
  const w = guided.dims[guided.dims.length - 1] ?? guided.size;
  const out = new Tensor(guided.dims);
  for (let r = 0; r < guided.size; r += w) {
    let gc = 0;
    let gg = 0;
    for (let k = r; k < r + w; k++) {
      gc += cond.data[k] * cond.data[k];
      gg += guided.data[k] * guided.data[k];
    }
    // LongCat-Image: scale = clamp(||cond|| / (||guided|| + 1e-8), min, 1).
    const f = down ? Math.min(Math.max(Math.sqrt(gc) / (Math.sqrt(gg) + 1e-8), down.min), 1) : gg > 0 ? Math.sqrt(gc / gg) : 1;
    for (let k = r; k < r + w; k++) out.data[k] = f * guided.data[k];
  }
  return out;
}

/** ZImagePipeline's cfg_normalization k: per sample, if ||guided|| > k ||cond||, guided scaled to k ||cond||. */
function clampSampleNorms(guided: Tensor, cond: Tensor, k: number): Tensor {
  const batch = guided.dims.length > 1 ? guided.dims[0] : 1;
  const per = guided.size / batch;
  const out = new Tensor(guided.dims, Float32Array.from(guided.data));
  for (let b = 0; b < batch; b++) {
    let gc = 0;
    let gg = 0;
    for (let i = b * per; i < (b + 1) * per; i++) {
      gc += cond.data[i] * cond.data[i];
      gg += guided.data[i] * guided.data[i];
    }
    const max = k * Math.sqrt(gc);
    const norm = Math.sqrt(gg);
    if (norm > max) for (let i = b * per; i < (b + 1) * per; i++) out.data[i] = guided.data[i] * (max / norm);
  }
  return out;
}

/** Per-sample population std over everything but the leading (batch) axis. */
function sampleStds(t: Tensor): number[] {
  const batch = t.dims.length > 1 ? t.dims[0] : 1;
  const per = t.size / batch;
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    let sum = 0;
    let sq = 0;
    for (let k = b * per; k < (b + 1) * per; k++) {
      sum += t.data[k];
      sq += t.data[k] * t.data[k];
    }
    const mean = sum / per;
    out.push(Math.sqrt(Math.max(sq / per - mean * mean, 0)));
  }
  return out;
}

/**
 * diffusers rescale_noise_cfg on raw outputs: per sample, guided * (phi * std(cond)/std(guided) + 1 - phi).
 * (torch's unbiased std cancels in the ratio.) A sample whose guided output is constant is left as is.
 */
export function rescaleGuided(guided: Tensor, cond: Tensor, phi: number): Tensor {
  if (phi === 0) return guided;
  const sc = sampleStds(cond);
  const sg = sampleStds(guided);
  const per = guided.size / sc.length;
  const out = new Tensor(guided.dims);
  for (let b = 0; b < sc.length; b++) {
    const f = sg[b] > 0 ? phi * (sc[b] / sg[b]) + (1 - phi) : 1;
    for (let k = b * per; k < (b + 1) * per; k++) out.data[k] = f * guided.data[k];
  }
  return out;
}

/**
 * uncond + scale (cond - uncond) (or the diffusers APG rule, given its state and level), then the optional
 * rescale and renormalization: the CFG rule on raw model outputs.
 */
export function combineCfg(cond: Tensor, uncond: Tensor, settings: CfgSettings, apg?: { state: ApgState; sigma: number }): Tensor {
  checkSettings(settings);
  if (settings.apg && !apg) throw new Error('CFG: APG needs its running state and the level');
  const guided = settings.apg
    ? combineApg(cond, uncond, settings, apg!.state, apg!.sigma)
    : linearCombination([
        [1 - settings.scale, uncond],
        [settings.scale, cond],
      ]);
  const rescaled = rescaleGuided(guided, cond, settings.rescale ?? 0);
  const n = settings.normalize ?? 'off';
  if (n === 'rows') return normalizeRows(rescaled, cond);
  if (n === 'rows-down') return normalizeRows(rescaled, cond, { min: settings.renormMin ?? 0 });
  if (n === 'clamp') return clampSampleNorms(rescaled, cond, settings.normLimit ?? 1);
  return rescaled;
}

/** The raw model output behind a Prediction (inverse of predictionFromOutput). */
export function outputOfPrediction(pred: Prediction, x: Tensor, sigma: number, kind: OutputKind): Tensor {
  if (kind.space === 'flow') {
    // A flow model's raw output is what its prediction type says: the velocity, or (overridden) eps or x0.
    if (kind.type === 'epsilon') return pred.eps;
    if (kind.type === 'sample') return pred.denoised;
    if (kind.type === 'v_prediction') throw new Error('prediction_type "v_prediction" is defined for VP models (alpha^2 + sigma^2 = 1), not flow models');
    return pred.derivative;
  }
  switch (kind.type) {
    case 'epsilon':
      return pred.eps;
    case 'sample':
      return pred.denoised;
    case 'v_prediction': {
      // eps = sigma alpha^2 x + alpha v (VE variables, alpha = 1/sqrt(sigma^2 + 1)).
      const alpha = 1 / Math.sqrt(sigma * sigma + 1);
      return linearCombination([
        [1 / alpha, pred.eps],
        [-sigma * alpha, x],
      ]);
    }
    case 'flow':
      throw new Error('prediction_type "flow" (velocity) needs a flow-matching model');
  }
}

/** A guided Prediction that also carries the unconditional side's x0 (for the CFG++ solvers). */
function withUncond(pred: Prediction, uncondDenoised: Tensor): Prediction {
  if (pred instanceof DeferredPrediction) {
    pred.uncondDenoised = uncondDenoised;
    return pred;
  }
  return { ...pred, uncondDenoised };
}

function combinePredictions(cond: Prediction, uncond: Prediction, x: Tensor, level: ModelLevel, settings: CfgSettings, kind: OutputKind | undefined, apg: ApgState): Prediction {
  if (settings.apg?.convention === 'comfyui') {
    if (!kind) throw new Error('APG needs the model output type');
    // At level 0 (where an inversion grid starts) x0 is the sample itself: it holds nothing of the model output.
    if (level.sigma === 0) throw new Error('APG with the comfyui convention guides x0, which at level 0 (an inversion grid\'s start) carries no model output: use the diffusers convention or plain CFG there');
    // ComfyUI's APG: on the x0 predictions; the guided x0 defines the rest of the Prediction.
    const x0 = combineApg(cond.denoised, uncond.denoised, settings, apg, level.sigma);
    return withUncond(predictionFromOutput(x0, x, level.sigma, kind.space, 'sample'), uncond.denoised);
  }
  if (onRawOutputs(settings) || settings.apg) {
    if (!kind) throw new Error('CFG rescale, normalization and APG need the model output type');
    const out = combineCfg(outputOfPrediction(cond, x, level.sigma, kind), outputOfPrediction(uncond, x, level.sigma, kind), settings, { state: apg, sigma: level.sigma });
    return withUncond(predictionFromOutput(out, x, level.sigma, kind.space, kind.type), uncond.denoised);
  }
  const mix = (c: Tensor, u: Tensor) => combineCfg(c, u, settings);
  return {
    denoised: mix(cond.denoised, uncond.denoised),
    eps: mix(cond.eps, uncond.eps),
    derivative: mix(cond.derivative, uncond.derivative),
    uncondDenoised: uncond.denoised,
  };
}

/**
 * CFG from two model calls per evaluation: `cond` (positive conditioning) and `uncond` (negative). At scale
 * 1 without rescale that is the conditional call alone, unless `keepUncond` (the CFG++ solvers read the
 * unconditional prediction at any scale, as ComfyUI's disable_cfg1_optimization keeps it).
 */
export function cfgDenoiseFn(cond: DenoiseFn, uncond: DenoiseFn, settings: CfgSettings, kind?: OutputKind, keepUncond = false): DenoiseFn {
  checkSettings(settings);
  // Scale 1 is the conditional call (the pipelines skip their renormalization there too).
  if (conditionalOnly(settings) && !keepUncond) return cond;
  if (keepUncond && settings.guidedSteps) throw new Error('CFG: a guided range of steps cannot be combined with a CFG++ solver, which reads the unconditional prediction on every step');
  const apg: ApgState = {};
  if (settings.apg?.convention === 'comfyui' && settings.scale === 1 && !keepUncond) {
    // ComfyUI at cfg 1 calls no unconditional model: its APG node rewrites the conditional x0 against zeros.
    const againstZeros: DenoiseFn = async (x, level) => {
      const c = await cond(x, level);
      const zero: Prediction = { denoised: new Tensor(x.dims), eps: new Tensor(x.dims), derivative: new Tensor(x.dims) };
      // No unconditional call was made, and ComfyUI's post-CFG hook sees none: a CFG++ sampler that allows this
      // (cfgpp_ud10_ab) reads the guided x0 in its place, not the zeros.
      const { uncondDenoised: _zeros, ...guided } = combinePredictions(c, zero, x, level, settings, kind, apg);
      return guided;
    };
    return withinGuidedSteps(againstZeros, cond, settings, apg);
  }
  const guided: DenoiseFn = async (x, level) => {
    const u = await uncond(x, level);
    const c = await cond(x, level);
    return combinePredictions(c, u, x, level, settings, kind, apg);
  };
  return withinGuidedSteps(guided, cond, settings, apg);
}

/** Stacks tensors of one shape along a new-or-existing leading batch axis: [B, ...] + [B, ...] -> [2B, ...]. */
export function concatBatch(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  for (const p of parts) if (!p.sameShape(first)) throw new Error(`concatBatch: shape ${p.shapeString()} differs from ${first.shapeString()}`);
  const dims = first.dims.length === 0 ? [parts.length] : [first.dims[0] * parts.length, ...first.dims.slice(1)];
  const out = new Tensor(dims);
  parts.forEach((p, k) => out.data.set(p.data, k * first.size));
  return out;
}

/** Splits a tensor's leading axis into `n` equal parts. */
export function splitBatch(t: Tensor, n: number): Tensor[] {
  if (t.dims.length === 0 || t.dims[0] % n !== 0) throw new Error(`splitBatch: leading axis of ${t.shapeString()} is not a multiple of ${n}`);
  const dims = [t.dims[0] / n, ...t.dims.slice(1)];
  const size = t.size / n;
  return Array.from({ length: n }, (_, k) => new Tensor(dims, t.data.slice(k * size, (k + 1) * size)));
}

/**
 * CFG from one model call per evaluation: `pair` must evaluate a batch [x; x] whose first half sees the
 * unconditional inputs and the second half the conditional ones (its conditioning feeds stacked the same way).
 * `cond`, the conditional model alone, runs the evaluations outside settings.guidedSteps.
 */
export function batchedCfgDenoiseFn(pair: DenoiseFn, settings: CfgSettings, kind?: OutputKind, cond?: DenoiseFn): DenoiseFn {
  checkSettings(settings);
  const apg: ApgState = {};
  const guided: DenoiseFn = async (x, level) => {
    const p = await pair(concatBatch([x, x]), level);
    const [ud, cd] = splitBatch(p.denoised, 2);
    const [ue, ce] = splitBatch(p.eps, 2);
    const [uv, cv] = splitBatch(p.derivative, 2);
    return combinePredictions({ denoised: cd, eps: ce, derivative: cv }, { denoised: ud, eps: ue, derivative: uv }, x, level, settings, kind, apg);
  };
  if (!settings.guidedSteps) return guided;
  if (!cond) throw new Error('CFG: a guided range of steps needs the conditional model for the steps outside it');
  return withinGuidedSteps(guided, cond, settings, apg);
}
