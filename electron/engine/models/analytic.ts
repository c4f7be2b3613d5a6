/**
 * The analytic denoisers as ONNX graphs: each computes the exact optimal model output for the Gaussian
 * data of nodes/sampling/gaussian.ts (fact sheet section 8), so every sampler run on them has a known
 * answer. Per sample: out = shiftOut*mu + U diag(f(t)) U^T (x - shiftIn(t)*mu) with two MatMuls; the
 * time-dependent coefficients come from tables computed here in float64.
 */
import { alphasCumprod, betasFromConfig } from '../../../nodes/sampling/betas.ts';
import type { GaussianParams } from '../../../nodes/sampling/gaussian.ts';
import { attr, GraphBuilder, onnxDataType } from '../onnx/builder.ts';

/** Bump when any generated graph or config changes: embedded folders are regenerated under a new version. */
export const ANALYTIC_GENERATOR_VERSION = 2;

const TRAIN_BETAS = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null,
} as const;

/** diffusers DDIMScheduler config of `gaussian-vp` (SD 1.x-style betas, integer timesteps). */
export const VP_SCHEDULER_CONFIG = {
  _class_name: 'DDIMScheduler',
  _diffusers_version: '0.30.0',
  ...TRAIN_BETAS,
  clip_sample: false,
  set_alpha_to_one: false,
  steps_offset: 1,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  thresholding: false,
  rescale_betas_zero_snr: false,
};

/** diffusers EulerDiscreteScheduler config of `gaussian-vp-continuous` (fractional timesteps). */
export const VP_CONTINUOUS_SCHEDULER_CONFIG = {
  _class_name: 'EulerDiscreteScheduler',
  _diffusers_version: '0.30.0',
  ...TRAIN_BETAS,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 1,
  interpolation_type: 'linear',
  use_karras_sigmas: false,
  timestep_type: 'discrete',
  final_sigmas_type: 'zero',
  rescale_betas_zero_snr: false,
};

/** diffusers FlowMatchEulerDiscreteScheduler config of `gaussian-rf`. */
export const RF_SCHEDULER_CONFIG = {
  _class_name: 'FlowMatchEulerDiscreteScheduler',
  _diffusers_version: '0.30.0',
  num_train_timesteps: 1000,
  shift: 1.0,
  use_dynamic_shifting: false,
};

/** Per-timestep VP quantities of a training schedule, in float64. */
export interface VpTables {
  abar: Float64Array;
  alpha: Float64Array;
  sigma: Float64Array;
  /** VE sigma sqrt((1 - abar) / abar), the table diffusers' Euler scheduler interpolates. */
  veSigma: Float64Array;
}

export function vpTables(cfg: Record<string, unknown>): VpTables {
  const abar = alphasCumprod(betasFromConfig(cfg));
  return {
    abar,
    alpha: abar.map(Math.sqrt),
    // 1 - abar directly from the products keeps sigma accurate where abar is close to 1.
    sigma: abar.map((a) => Math.sqrt(1 - a)),
    veSigma: abar.map((a) => Math.sqrt((1 - a) / a)),
  };
}

/** np.interp(t, arange(n), table): linear interpolation, clamped to the end values outside [0, n-1]. */
export function interpTable(table: ArrayLike<number>, t: number): number {
  const n = table.length;
  if (!(t > 0)) return table[0];
  if (t >= n - 1) return table[n - 1];
  const i = Math.floor(t);
  const f = t - i;
  return table[i] + f * (table[i + 1] - table[i]);
}

interface SpectralGraph {
  g: GraphBuilder;
  /** [B, D] input. */
  flat: string;
  U: string;
  mu: string;
  l: string;
  D: number;
}

function sampleShape(p: GaussianParams): (number | string)[] {
  return ['batch', ...p.dims];
}

/** Declares the sample input, flattens it to [B, D] and stores U, mu, l as initializers. */
function spectralGraph(p: GaussianParams, sampleName: string, timestepType: 'int64' | 'float32'): SpectralGraph & { t: string; sample: string } {
  const D = p.mu.length;
  const g = new GraphBuilder('flowstudio_analytic');
  const sample = g.input(sampleName, 'float32', sampleShape(p));
  const t = g.input('timestep', timestepType, [1]);
  const flat = g.op('Reshape', [sample, g.constInt64([-1, D])]);
  const U = g.initializer('eigvecs', 'float32', [D, D], p.U);
  const mu = g.initializer('mean', 'float32', [D], p.mu);
  const l = g.initializer('eigvals', 'float32', [D], p.l);
  return { g, flat, U, mu, l, D, t, sample };
}

/** out = U diag(f) U^T (flat - shift*mu) (+ outShift*mu), reshaped like the sample input. */
function spectralOutput(
  s: SpectralGraph & { sample: string },
  shift: string,
  f: string,
  outName: string,
  p: GaussianParams,
  subtractMu = false,
): void {
  const { g } = s;
  const r = g.op('Sub', [s.flat, g.op('Mul', [shift, s.mu])]);
  const y = g.op('Mul', [g.op('MatMul', [r, s.U]), f]);
  let out = g.op('Gemm', [y, s.U], { transB: attr.int(1) });
  if (subtractMu) out = g.op('Sub', [out, s.mu]);
  g.op('Reshape', [out, g.op('Shape', [s.sample])], {}, outName);
  g.output(outName, 'float32', sampleShape(p));
}

/** eps coefficients sigma / (alpha^2 l + sigma^2) from [1]-shaped alpha and sigma. */
function epsCoefficients(s: SpectralGraph, alpha: string, sigma: string): string {
  const { g } = s;
  const denom = g.op('Add', [g.op('Mul', [g.op('Mul', [alpha, alpha]), s.l]), g.op('Mul', [sigma, sigma])]);
  return g.op('Div', [sigma, denom]);
}

const MODEL_DOC = 'FlowStudio analytic model: exact optimal denoiser for Gaussian data (generated).';

/**
 * `gaussian-vp` unet: inputs sample [batch, ...dims] float32, timestep int64 [1] (an index into the
 * training table, clamped to [0, T-1]); output out_sample = eps*(x, t).
 */
export function buildVpUnet(p: GaussianParams, cfg: Record<string, unknown> = VP_SCHEDULER_CONFIG): Uint8Array {
  const tables = vpTables(cfg);
  const T = tables.alpha.length;
  const s = spectralGraph(p, 'sample', 'int64');
  const { g } = s;
  const idx = g.op('Clip', [s.t, g.constInt64([0], []), g.constInt64([T - 1], [])]);
  const alpha = g.op('Gather', [g.initializer('alpha_table', 'float32', [T], tables.alpha), idx], { axis: attr.int(0) });
  const sigma = g.op('Gather', [g.initializer('sigma_table', 'float32', [T], tables.sigma), idx], { axis: attr.int(0) });
  spectralOutput(s, alpha, epsCoefficients(s, alpha, sigma), 'out_sample', p);
  return g.toBytes({ docString: MODEL_DOC, metadata: { analytic: 'gaussian-vp', generator: String(ANALYTIC_GENERATOR_VERSION) } });
}

/**
 * `gaussian-vp-continuous` unet: timestep float32 [1], fractional t in [0, T-1]. The VE sigma is
 * interpolated linearly in t (np.interp, as EulerDiscreteScheduler does), then alpha = 1/sqrt(s^2+1),
 * sigma = s*alpha; output eps*(x, t).
 */
export function buildVpContinuousUnet(p: GaussianParams, cfg: Record<string, unknown> = VP_CONTINUOUS_SCHEDULER_CONFIG): Uint8Array {
  const tables = vpTables(cfg);
  const T = tables.veSigma.length;
  const s = spectralGraph(p, 'sample', 'float32');
  const { g } = s;
  const one = g.constFloat([1], []);
  const tc = g.op('Clip', [s.t, g.constFloat([0], []), g.constFloat([T - 1], [])]);
  // Lower grid index, capped at T-2 so t = T-1 uses the last segment with weight 1.
  const lo = g.op('Min', [g.op('Floor', [tc]), g.constFloat([T - 2], [])]);
  const frac = g.op('Sub', [tc, lo]);
  const i0 = g.op('Cast', [lo], { to: attr.int(onnxDataType('int64')) });
  const i1 = g.op('Add', [i0, g.constInt64([1], [])]);
  const table = g.initializer('ve_sigma_table', 'float32', [T], tables.veSigma);
  const s0 = g.op('Gather', [table, i0], { axis: attr.int(0) });
  const s1 = g.op('Gather', [table, i1], { axis: attr.int(0) });
  const ve = g.op('Add', [s0, g.op('Mul', [frac, g.op('Sub', [s1, s0])])]);
  const alpha = g.op('Div', [one, g.op('Sqrt', [g.op('Add', [g.op('Mul', [ve, ve]), one])])]);
  const sigma = g.op('Mul', [ve, alpha]);
  spectralOutput(s, alpha, epsCoefficients(s, alpha, sigma), 'out_sample', p);
  return g.toBytes({
    docString: MODEL_DOC,
    metadata: { analytic: 'gaussian-vp-continuous', generator: String(ANALYTIC_GENERATOR_VERSION) },
  });
}

/**
 * `gaussian-rf` transformer: inputs hidden_states [batch, ...dims], timestep float32 [1] with t in [0, 1]
 * (clamped); output out_hidden_states = v*(x, t) = -mu + U diag((t - a l)/(a^2 l + t^2)) U^T (x - a mu), a = 1-t.
 */
export function buildRfTransformer(p: GaussianParams): Uint8Array {
  const s = spectralGraph(p, 'hidden_states', 'float32');
  const { g } = s;
  const t = g.op('Clip', [s.t, g.constFloat([0], []), g.constFloat([1], [])]);
  const a = g.op('Sub', [g.constFloat([1], []), t]);
  const al = g.op('Mul', [a, s.l]);
  const num = g.op('Sub', [t, al]);
  const den = g.op('Add', [g.op('Mul', [a, al]), g.op('Mul', [t, t])]);
  spectralOutput(s, a, g.op('Div', [num, den]), 'out_hidden_states', p, true);
  return g.toBytes({ docString: MODEL_DOC, metadata: { analytic: 'gaussian-rf', generator: String(ANALYTIC_GENERATOR_VERSION) } });
}
