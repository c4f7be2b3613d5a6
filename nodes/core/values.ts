/**
 * The values that travel along edges, one TypeScript type per port type. Nodes, the executor's cache
 * (byte sizes, spilling) and the transports all key off this map.
 */
import type { Tensor } from './tensor.ts';

/** Every port type a node may declare. Order is the palette/legend order. */
export const PORT_TYPES = [
  'MODEL',
  'LATENT',
  'IMAGE',
  'CONDITIONING',
  'SIGMAS',
  'NOISE',
  'MASK',
  'GUIDANCE',
  'FEATURES',
  'TRAJECTORY',
  'METRICS',
  'INT',
  'FLOAT',
  'STRING',
  'BOOLEAN',
] as const;
export type PortType = (typeof PORT_TYPES)[number];

/** What the model must be called with and how to read a noise level. */
export type SigmaSpace =
  /** VP model seen in VE variables: sigma = sqrt((1 - abar) / abar); x_ve = x_vp / alpha. */
  | 'vp'
  /** Rectified flow: sigma = t in [0, 1]; x_t = (1 - t) x0 + t eps. */
  | 'flow';

/**
 * A noise schedule as the solver walks it. Level i is `sigmas[i]`; the model is called there with
 * `timesteps[i]` (already in the units the model expects). `sigmas` has one more entry than
 * `timesteps`: the level the last step lands on. Splitting a schedule keeps pairs together.
 */
export interface Sigmas {
  space: SigmaSpace;
  sigmas: number[];
  timesteps: number[];
  /**
   * Optional per-step target level when a scheduler steps to a level that is not the next grid
   * entry (diffusers DDIM's prev_t = t - T/N rule). Same length as `timesteps`.
   */
  targets?: number[];
  /** Which scheduler rules produced the grid (e.g. "DDIMScheduler"), for display and parity checks. */
  origin?: string;
  /**
   * Scale of the pure noise a full run from sigmas[0] starts from, in sampling variables (diffusers'
   * init_noise_sigma, which depends on the scheduler class and its spacing). Absent on cut-out parts.
   */
  initNoiseSigma?: number;
  /**
   * Set when this grid is a part of a longer schedule: the index of its first step there, that schedule's
   * step count (diffusers' lower_order_final and warm-up rules count the whole schedule), and its levels
   * before this part (LMS takes its first coefficients from them, as diffusers' step_index does).
   */
  segment?: { start: number; total: number; preceding: readonly number[] };
  /**
   * A part cut from a longer schedule: the model timestep of the level it ends on, which the whole grid
   * holds as the next step's (a mean-flow network's interval end at the part's last step).
   */
  endTimestep?: number;
  /**
   * How a level between grid levels (a midpoint stage, a churned level) gets its model timestep. Absent:
   * diffusers' interpolation in the training table. 'comfyui': the nearest training timestep, as ComfyUI's
   * discrete models take every level (comfy-schedules.ts).
   */
  offGridTimesteps?: 'comfyui';
  /*
   * The last three are set only on the grid a Sampler walks on a ComfyUI grid (comfyRunGrid, the ComfyUI
   * sampler's own rules), never on a schedule node's output: splitting or editing never sees them.
   */
  /**
   * The levels ComfyUI's Brownian tree spans for this grid when they are not the grid's own: a ComfyUI SDE
   * sampler builds it before moving a flow grid's first level off t = 1 (comfySnrOffset).
   */
  comfyNoiseRange?: readonly [number, number];
  /** The order of each step, for solvers whose grid fixes it (ComfyUI's dpm_fast: 3, ..., 3 then 2, 1 or the remainder). */
  stepOrders?: readonly number[];
  /**
   * A ComfyUI flow run that ends above 0 inside a KSampler grid ending at 0 (dpm_fast, dpm_adaptive walk their
   * own grid to its last positive level): ComfyUI's inverse_noise_scaling then divides by 1 - 0, so the result
   * is not rescaled by 1 / (1 - last level) as uni_pc's 0.001 end is.
   */
  comfyUnscaledEnd?: boolean;
}

/** Description of one ONNX input/output as reported by the runtime. */
export interface TensorInfo {
  name: string;
  /** ONNX element type name: 'float32', 'float16', 'int64', 'int32', ... */
  type: string;
  /** Symbolic dims are strings (e.g. 'batch'), unknown dims are -1. */
  shape: (number | string)[];
}

/** A declared shape for messages: [batch, 4, ?, ?], unknown dims as ?. */
export function declaredShapeString(shape: readonly (number | string)[]): string {
  return `[${shape.map((d) => (typeof d === 'number' && d < 0 ? '?' : String(d))).join(', ')}]`;
}

/** A feed for a model call: float data, or integer data for int64/int32 inputs. */
export interface ModelFeed {
  dims: readonly number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint16Array;
  /** ONNX element type to send; the session layer converts `data` to it. */
  type: 'float32' | 'float16' | 'float64' | 'int64' | 'int32';
}

/** A loaded ONNX network ready to run (one file, one provider). */
export interface ModelSession {
  readonly file: string;
  /** The execution provider ORT actually used ('cuda', 'dml', 'coreml', 'webgpu', 'cpu'). */
  readonly provider: string;
  /** Providers preferred over it that could not load this model, and why (a GPU that was full, a missing library). */
  readonly providerFailures?: readonly { provider: string; error: string }[];
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  /**
   * Runs the network; float outputs come back as Tensors. Honours the signal between calls.
   * Feed data belongs to the caller again once the promise settles (samplers reuse input buffers):
   * an implementation must not keep references to it.
   */
  run(feeds: Record<string, ModelFeed>, signal?: AbortSignal): Promise<Record<string, Tensor>>;
}

/** diffusers scheduler_config.json, kept as read (unknown keys preserved). */
export type SchedulerConfig = Record<string, unknown> & { _class_name?: string };

/** MODEL port value: a diffusers-ONNX folder (or single .onnx) opened for sampling. */
export interface ModelHandle {
  /** Stable identity for caching and display: folder path + content stamp. */
  key: string;
  name: string;
  folder: string;
  /** model_index.json as read (or synthesized for a single .onnx file). */
  modelIndex: Record<string, unknown>;
  scheduler: SchedulerConfig;
  /** The denoiser network: unet/ or transformer/. */
  denoiser: ModelSession;
  /** Which folder the denoiser came from. */
  denoiserKind: 'unet' | 'transformer';
  /**
   * What the network predicts, when a Model Sampling node says so: wins over the config's prediction_type,
   * also on flow-matching configs (whose prediction_type diffusers ignores).
   */
  predictionType?: 'epsilon' | 'sample' | 'v_prediction' | 'flow';
  /** The folder's diffusers guider configs (guider/ and ocr_guider/ guider_config.json), as read. */
  guiders?: Partial<Record<GuiderComponent, Record<string, unknown>>>;
}

export const GUIDER_COMPONENTS = ['guider', 'ocr_guider'] as const;
export type GuiderComponent = (typeof GUIDER_COMPONENTS)[number];

/** CONDITIONING: text embeddings or similar, per named model input. Empty for unconditional models. */
export interface Conditioning {
  feeds: Record<string, Tensor>;
}

/** METRICS: named scalar results (and optional per-step series) for reports and debug views. */
export interface Metrics {
  values: Record<string, number>;
  series?: Record<string, number[]>;
}

/** TRAJECTORY: the states a sampler or inversion visited, and its model's x0 predictions. */
export interface Trajectory {
  sigmas: number[];
  states: Tensor[];
  denoised: Tensor[];
}

/** GUIDANCE: a hook the sampler applies around each model call (CFG and friends, later issues). */
export interface Guidance {
  kind: string;
  params: Record<string, unknown>;
}

/** FEATURES: a bank of tensors keyed by string (attention values for RF-Edit, later issues). */
export interface Features {
  kind: string;
  entries: Map<string, Tensor>;
}

export interface PortValueMap {
  MODEL: ModelHandle;
  LATENT: Tensor;
  IMAGE: Tensor;
  CONDITIONING: Conditioning;
  SIGMAS: Sigmas;
  NOISE: Tensor;
  MASK: Tensor;
  GUIDANCE: Guidance;
  FEATURES: Features;
  TRAJECTORY: Trajectory;
  METRICS: Metrics;
  INT: number;
  FLOAT: number;
  STRING: string;
  BOOLEAN: boolean;
}
export type PortValue<T extends PortType = PortType> = PortValueMap[T];
