/**
 * DDIM (Song et al. 2021) with diffusers DDIMScheduler semantics (fact sheet 3.1):
 *   x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - std^2) eps + std z,
 *   std = eta sqrt((1 - abar_prev)/(1 - abar_t)) sqrt(1 - abar_t/abar_prev).
 * abar_prev is the level of `targets[i]` (diffusers' prev_t = t - T//N), which need not be the next grid
 * level. diffusers keeps the VP sample and feeds it unchanged to the next grid timestep; this solver keeps
 * the VE state, so it maps the VP result to the next grid level with that level's alpha:
 * x_ve(next) = x_vp_prev * sqrt(s_next^2 + 1). The VP sample at every grid level is the same as diffusers'
 * (equal in exact arithmetic; test/ddim.test.ts checks it against a VP-state reference).
 * On a flow grid DDIM is flow-matching Euler (eta must be 0).
 */
import { Tensor } from '../core/tensor.ts';
import type { SchedulerConfig } from '../core/values.ts';
import { createFlowEuler } from './flow-euler.ts';
import { linearCombination } from './ops.ts';
import { checkSigmas, levelAt, type Solver, type SolverContext, type SolverState } from './solver.ts';

export interface DdimOptions {
  /** 0 = deterministic DDIM, 1 = DDPM-like ancestral noise. */
  eta?: number;
  /** diffusers clip_sample: clamp x0 to [-range, range]. */
  clipSampleRange?: number;
  /** diffusers thresholding (Imagen dynamic thresholding), applied instead of clipping when set. */
  thresholding?: { ratio: number; maxValue: number };
}

function cfgValue<T>(cfg: SchedulerConfig, key: string, fallback: T, check: (v: unknown) => boolean): T {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (!check(v)) throw new Error(`scheduler config: invalid "${key}": ${JSON.stringify(v)}`);
  return v as T;
}

/** Scheduler classes whose configs carry clip_sample with DDIMScheduler's default (true). */
const CLIPPING_CLASSES = /^(DDIM|DDPM|PNDM)/;

/**
 * x0 clipping / thresholding from a scheduler config. DDIMScheduler defaults clip_sample to true; that default
 * applies only to configs of the DDIM/DDPM/PNDM family (or without a class). Deliberate deviation: diffusers'
 * DDIMScheduler.from_config on, say, an EulerDiscreteScheduler config would clip x0 to [-1, 1] because that
 * config never mentions clip_sample; here such configs are not clipped.
 */
export function ddimOptionsFromConfig(cfg: SchedulerConfig, eta = 0): DdimOptions {
  const isBool = (v: unknown) => typeof v === 'boolean';
  const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const opts: DdimOptions = { eta };
  const cls = cfg._class_name;
  const clipDefault = typeof cls !== 'string' || CLIPPING_CLASSES.test(cls);
  if (cfgValue(cfg, 'thresholding', false, isBool)) {
    opts.thresholding = {
      ratio: cfgValue(cfg, 'dynamic_thresholding_ratio', 0.995, isNum),
      maxValue: cfgValue(cfg, 'sample_max_value', 1, isNum),
    };
  } else if (cfgValue(cfg, 'clip_sample', clipDefault, isBool)) {
    opts.clipSampleRange = cfgValue(cfg, 'clip_sample_range', 1, isNum);
  }
  return opts;
}

/** torch.quantile with linear interpolation over a copy of the values. */
function quantile(values: Float32Array, q: number): number {
  const sorted = Float64Array.from(values).sort();
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Clamps (or dynamically thresholds) an x0 prediction per sample, as DDIMScheduler does before the update. */
export function limitDenoised(x0: Tensor, opts: DdimOptions): Tensor {
  if (opts.thresholding) {
    const { ratio, maxValue } = opts.thresholding;
    const batch = x0.dims[0] ?? 1;
    const per = x0.size / batch;
    const out = new Tensor(x0.dims);
    for (let b = 0; b < batch; b++) {
      const slice = x0.data.subarray(b * per, (b + 1) * per);
      const s = Math.min(Math.max(quantile(slice.map(Math.abs), ratio), 1), maxValue);
      for (let k = 0; k < per; k++) out.data[b * per + k] = Math.min(Math.max(slice[k], -s), s) / s;
    }
    return out;
  }
  if (opts.clipSampleRange !== undefined) {
    const r = opts.clipSampleRange;
    return new Tensor(x0.dims, x0.data.map((v) => Math.min(Math.max(v, -r), r)));
  }
  return x0;
}

/** The coefficients of one DDIM update from VE level s to target level p, landing on grid level `next`. */
export function ddimCoefficients(s: number, p: number, next: number, eta: number): { denoised: number; eps: number; noise: number } {
  // With abar = 1/(sigma^2+1): 1 - abar_p = p^2/(p^2+1), 1 - abar_t/abar_p = (s^2 - p^2)/(s^2+1), so the
  // variance is p^2 (s^2 - p^2) / (s^2 (p^2 + 1)); written so no 1 - abar cancellation occurs.
  const variance = s === 0 ? 0 : (p * p * (s * s - p * p)) / (s * s * (p * p + 1));
  if (eta > 0 && variance < 0) throw new Error(`DDIM with eta > 0 cannot step up in noise (sigma ${s} -> ${p})`);
  const std = eta * Math.sqrt(Math.max(variance, 0));
  const oneMinusAbarP = (p * p) / (p * p + 1);
  const dir = Math.sqrt(Math.max(oneMinusAbarP - std * std, 0));
  const toNext = Math.sqrt(next * next + 1);
  return { denoised: toNext / Math.sqrt(p * p + 1), eps: dir * toNext, noise: std * toNext };
}

export function createDdim(opts: DdimOptions = {}): Solver {
  const eta = opts.eta ?? 0;
  if (!(eta >= 0 && Number.isFinite(eta))) throw new Error(`DDIM: eta must be a finite number >= 0, got ${eta}`);
  const flow = createFlowEuler();
  return {
    name: 'ddim',
    nfePerStep: 1,
    init(ctx: SolverContext, x: Tensor): SolverState {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space === 'flow') {
        if (eta > 0) throw new Error('DDIM eta > 0 is defined for VP models only; this is a flow model (use eta 0)');
        return flow.init(ctx, x);
      }
      if (eta > 0 && !ctx.noise) throw new Error('DDIM with eta > 0 needs a noise source');
      return { x };
    },
    async step(ctx, state, i, model) {
      if (ctx.sigmas.space === 'flow') return flow.step(ctx, state, i, model);
      const { sigmas } = ctx;
      const level = levelAt(sigmas, i);
      const pred = await model(state.x, level);
      const denoised = limitDenoised(pred.denoised, opts);
      const target = sigmas.targets?.[i] ?? sigmas.sigmas[i + 1];
      const c = ddimCoefficients(level.sigma, target, sigmas.sigmas[i + 1], eta);
      const terms: [number, Tensor][] = [
        [c.denoised, denoised],
        [c.eps, pred.eps],
      ];
      // diffusers draws the variance noise on every step once eta > 0 (even when its std is 0).
      if (eta > 0) terms.push([c.noise, ctx.noise!(state.x.dims)]);
      return { x: linearCombination(terms), denoised };
    },
  };
}
