/**
 * diffusers' inverse schedulers written out from their Python sources (float64, VP variables), each driven
 * the way its pipelines drive it: the model gets the VP latent itself (scale_model_input is the identity)
 * and the integer timestep. References for the inversion tests, written independently of nodes/sampling.
 */
import { alphasCumprod, betasFromConfig } from '../../nodes/sampling/betas.ts';
import type { SchedulerConfig } from '../../nodes/core/values.ts';
import { npLinspace, npRound } from '../exp-solver-helpers.ts';

/** A denoiser called as a pipeline calls it: VP latent and timestep in, raw output (eps or v) out. */
export type RawModel = (x: Float64Array, t: number) => Promise<Float64Array>;

/** DDIMInverseScheduler.set_timesteps + step, over every timestep. */
export async function ddimInverseLoop(model: RawModel, cfg: SchedulerConfig, steps: number, xvp: ArrayLike<number>): Promise<Float64Array> {
  const abar = alphasCumprod(betasFromConfig(cfg));
  const T = abar.length;
  const ratioInt = Math.floor(T / steps);
  // set_timesteps: leading arange(N) * ratio + offset; trailing round(arange(T, 0, -T/N))[::-1] - 1.
  const ts =
    cfg.timestep_spacing === 'trailing'
      ? Array.from({ length: steps }, (_, k) => Math.round(T - (steps - 1 - k) * (T / steps)) - 1)
      : Array.from({ length: steps }, (_, k) => k * ratioInt + ((cfg.steps_offset as number) ?? 0));
  const initial = cfg.set_alpha_to_one === false ? abar[0] : 1;
  // clip_sample: DDIMInverseScheduler's default is true (the configs here are DDIM-class configs).
  const clip = cfg.clip_sample !== false ? ((cfg.clip_sample_range as number) ?? 1) : undefined;
  const type = cfg.prediction_type ?? 'epsilon';
  let x = Float64Array.from(xvp);
  for (const t of ts) {
    const prev = Math.min(t - ratioInt, T - 1);
    const ap = prev >= 0 ? abar[prev] : initial;
    const an = abar[t];
    const m = await model(x, t);
    const eps = type === 'v_prediction' ? x.map((v, k) => Math.sqrt(ap) * m[k] + Math.sqrt(1 - ap) * v) : Float64Array.from(m);
    x = x.map((v, k) => {
      let x0 = type === 'v_prediction' ? Math.sqrt(ap) * v - Math.sqrt(1 - ap) * m[k] : (v - Math.sqrt(1 - ap) * eps[k]) / Math.sqrt(ap);
      if (clip !== undefined) x0 = Math.min(Math.max(x0, -clip), clip);
      return Math.sqrt(an) * x0 + Math.sqrt(1 - an) * eps[k];
    });
  }
  return x;
}

/**
 * DPMSolverMultistepInverseScheduler (algorithm_type dpmsolver++, solver_type midpoint, eps prediction, no
 * thresholding) over its timesteps, or their first `run` ones as DiffEdit's get_inverse_timesteps takes them
 * for a strength < 1. Returns the final latent and the timesteps the model was called with.
 */
export async function dpmInverseLoop(
  model: RawModel,
  cfg: SchedulerConfig,
  steps: number,
  xvp: ArrayLike<number>,
  opts: { order?: 1 | 2; run?: number } = {},
): Promise<{ x: Float64Array; calls: number[] }> {
  const abar = alphasCumprod(betasFromConfig(cfg));
  const T = abar.length;
  const order = opts.order ?? 2;
  const noisiest = T - 1; // lambda_min_clipped -inf
  const spacing = (cfg.timestep_spacing as string | undefined) ?? 'linspace';
  let ts: number[];
  if (spacing === 'linspace') ts = npLinspace(0, noisiest, steps + 1).map(npRound).slice(0, -1);
  else if (spacing === 'leading') {
    const ratio = Math.floor((noisiest + 1) / (steps + 1));
    ts = Array.from({ length: steps }, (_, k) => k * ratio + ((cfg.steps_offset as number | undefined) ?? 0));
  } else {
    const ratio = T / steps;
    const raw = Array.from({ length: Math.ceil((noisiest + 1) / ratio) }, (_, i) => npRound(noisiest + 1 - i * ratio));
    ts = raw.reverse().map((t) => t - 1);
  }
  const veTable = abar.map((a) => Math.sqrt((1 - a) / a));
  const sigmas = [...ts.map((t) => veTable[t]), veTable[noisiest]];
  // _sigma_to_alpha_sigma_t: alpha = 1/sqrt(1 + s^2), sigma = s * alpha; lambda = log(alpha) - log(sigma).
  const alphaOf = (s: number) => 1 / Math.sqrt(1 + s * s);
  const lambdaOf = (s: number) => Math.log(alphaOf(s)) - Math.log(s * alphaOf(s));
  const n = ts.length;
  const outputs: Float64Array[] = [];
  let lowerOrderNums = 0;
  let x = Float64Array.from(xvp);
  const calls: number[] = [];
  for (let i = 0; i < (opts.run ?? n); i++) {
    const t = ts[i];
    calls.push(t);
    const eps = await model(x, t);
    const s0 = sigmas[i];
    const x0 = x.map((v, k) => (v - s0 * alphaOf(s0) * eps[k]) / alphaOf(s0));
    outputs.push(x0);
    const lowerFinal = i === n - 1 && cfg.lower_order_final !== false && n < 15;
    const st = sigmas[i + 1];
    const h = lambdaOf(st) - lambdaOf(s0);
    const at = alphaOf(st);
    const ratio = (st * at) / (s0 * alphaOf(s0));
    if (order === 1 || lowerOrderNums < 1 || lowerFinal) {
      x = x.map((v, k) => ratio * v - at * Math.expm1(-h) * x0[k]);
    } else {
      const m1 = outputs[outputs.length - 2];
      const r0 = (lambdaOf(s0) - lambdaOf(sigmas[i - 1])) / h;
      x = x.map((v, k) => ratio * v - at * Math.expm1(-h) * x0[k] - 0.5 * at * Math.expm1(-h) * ((x0[k] - m1[k]) / r0));
    }
    if (lowerOrderNums < order) lowerOrderNums++;
  }
  return { x, calls };
}
