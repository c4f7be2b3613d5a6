/**
 * Wraps a MODEL's denoiser network as the DenoiseFn the solvers call: scales the state into the model's
 * variables, builds the timestep feed in the dtype the network declares, and converts the raw output
 * (eps, x0, v or flow velocity) into a Prediction in sampling variables (fact sheet section 1): data
 * prediction, noise prediction and the ODE derivative. Optionally limits the x0 prediction (clip_sample,
 * dynamic thresholding) the way diffusers' schedulers do.
 */
import { Tensor } from '../core/tensor.ts';
import { declaredShapeString, type Conditioning, type ModelFeed, type ModelHandle, type SchedulerConfig, type SigmaSpace, type TensorInfo } from '../core/values.ts';
import { DeferredPrediction } from './deferred-prediction.ts';
import { cmDenoised, cmInputScale, cmParams } from './cm.ts';
import { edmDenoised, edmInputScale, edmParams } from './edm.ts';
import { axpby, scaleInto } from './ops.ts';
import { trainTimesteps } from './betas.ts';
import { negatedFlowOutput, reversedFlowTime, timestepUnits } from './model-time.ts';
import { cfgBool, cfgNumber } from './schedule-config.ts';
import { SCHEDULER_RULES, schedulerClassFor } from './schedule-rules.ts';
import { modelInputScale, type DenoiseFn, type ModelLevel, type Prediction } from './solver.ts';

export const PREDICTION_TYPES = ['epsilon', 'sample', 'v_prediction', 'flow'] as const;
export type PredictionType = (typeof PREDICTION_TYPES)[number];

/** A prediction type name as configs and node params spell it ('flow_prediction' is diffusers' name for 'flow'). */
export function parsePredictionType(v: unknown, where = 'prediction_type'): PredictionType {
  if (v === 'flow_prediction') return 'flow';
  if (typeof v === 'string' && (PREDICTION_TYPES as readonly string[]).includes(v)) return v as PredictionType;
  throw new Error(`${where}: unknown prediction type ${JSON.stringify(v)} (expected epsilon, sample, v_prediction or flow)`);
}

const TIMESTEP_NAMES = ['timestep', 'timesteps', 't', 'time'];
const FLOAT_TYPES = ['float32', 'float16', 'float64'];

/** Which network inputs carry the sample and the timestep, and which output is the prediction. */
export interface DenoiserBinding {
  sample: TensorInfo;
  timestep: TensorInfo;
  /**
   * A mean-flow network's second time input (HunyuanImage 2.1 distilled: timestep_r), the end of the interval
   * whose average velocity it predicts: fed the timestep of the level the step lands on (0 on a schedule's last
   * step, as HunyuanImagePipeline feeds it); the timestep itself (r = t, the instantaneous velocity) between
   * grid levels, on a step's later stages (Heun's corrector) and on upward (inversion) steps.
   */
  timestepR?: TensorInfo;
  output: string;
}

/** The input name of a mean-flow network's interval end. */
export const TIMESTEP_R_NAME = 'timestep_r';

function describeInputs(inputs: readonly TensorInfo[]): string {
  return inputs.map((i) => `${i.name} (${i.type} ${declaredShapeString(i.shape)})`).join(', ') || 'none';
}

/** Finds the sample and timestep inputs: 'sample' (unet/), 'hidden_states' (transformer/), else the first rank-4 float input. */
export function bindDenoiser(handle: Pick<ModelHandle, 'denoiser' | 'denoiserKind'>): DenoiserBinding {
  const { inputs, outputs } = handle.denoiser;
  const preferred = handle.denoiserKind === 'transformer' ? 'hidden_states' : 'sample';
  const sample =
    inputs.find((i) => i.name === preferred) ??
    inputs.find((i) => i.name === 'sample' || i.name === 'hidden_states') ??
    inputs.find((i) => FLOAT_TYPES.includes(i.type) && i.shape.length === 4);
  if (!sample) throw new Error(`denoiser ${handle.denoiser.file}: no sample input found (inputs: ${describeInputs(inputs)})`);
  const timestepR = inputs.find((i) => i.name === TIMESTEP_R_NAME);
  const timestep =
    inputs.find((i) => TIMESTEP_NAMES.includes(i.name)) ??
    inputs.find((i) => i !== sample && i !== timestepR && i.shape.length <= 1 && (FLOAT_TYPES.includes(i.type) || i.type.startsWith('int')));
  if (!timestep) throw new Error(`denoiser ${handle.denoiser.file}: no timestep input found (inputs: ${describeInputs(inputs)})`);
  if (!FLOAT_TYPES.includes(sample.type)) throw new Error(`denoiser input "${sample.name}" has element type ${sample.type}, expected a float type`);
  if (outputs.length === 0) throw new Error(`denoiser ${handle.denoiser.file}: the network has no outputs`);
  return timestepR ? { sample, timestep, timestepR, output: outputs[0].name } : { sample, timestep, output: outputs[0].name };
}

/** Throws when a latent cannot be fed to the sample input (rank or any fixed dimension differs). */
export function checkLatentShape(binding: DenoiserBinding, dims: readonly number[]): void {
  const declared = binding.sample.shape;
  const fits = declared.length === dims.length && declared.every((d, k) => typeof d !== 'number' || d < 0 || d === dims[k]);
  if (!fits) {
    throw new Error(
      `latent shape [${dims.join(', ')}] does not match the model input "${binding.sample.name}" shape ${declaredShapeString(declared)}`,
    );
  }
  // A named dim that appears twice ties those axes: [batch, c, s, s] takes square latents only.
  for (let k = 0; k < declared.length; k++) {
    const first = declared.indexOf(declared[k]);
    if (typeof declared[k] === 'string' && first < k && dims[first] !== dims[k]) {
      throw new Error(
        `latent shape [${dims.join(', ')}] does not match the model input "${binding.sample.name}" shape ${declaredShapeString(declared)}: its axes ${first} and ${k} are both "${declared[k]}", so they must be equal (got ${dims[first]} and ${dims[k]})`,
      );
    }
  }
}

/** The element type a feed for this input is sent as (the session converts the data to it). */
export function feedType(info: TensorInfo): ModelFeed['type'] {
  const t = info.type;
  if (t === 'float32' || t === 'float16' || t === 'float64' || t === 'int64' || t === 'int32') return t;
  throw new Error(`model input "${info.name}" has unsupported element type ${t}`);
}

/**
 * The timestep feed: the declared shape (symbolic dims = batch, scalar when rank 0), every entry t.
 * Integer inputs get t truncated toward zero, as diffusers' ONNX pipelines' np.array([t], dtype) does.
 */
export function timestepFeed(info: TensorInfo, t: number, batch: number): ModelFeed {
  const dims = timestepDims(info, batch);
  const size = dims.length ? dims[0] : 1;
  const type = feedType(info);
  const data =
    type === 'int64' ? new BigInt64Array(size) : type === 'int32' ? new Int32Array(size) : type === 'float64' ? new Float64Array(size) : new Float32Array(size);
  const feed: ModelFeed = { dims: Object.freeze(dims), type, data };
  setTimestep(feed, t);
  return feed;
}

/** The timestep feed's dims: the declared shape, a symbolic or unknown dim taking the batch size. */
function timestepDims(info: TensorInfo, batch: number): number[] {
  if (info.shape.length > 1) throw new Error(`timestep input "${info.name}" has rank ${info.shape.length}, expected 0 or 1`);
  return info.shape.map((d) => (typeof d === 'number' && d > 0 ? d : batch));
}

/**
 * The conditioning feeds against the inputs they fill, before the first model call of a latent shape: rank and
 * fixed dims, and each named dim the same size wherever it appears (in the latent, the timestep feed and the
 * conditioning). ORT would refuse the same feeds, in terms of the network's inputs rather than of the
 * conditioning that brought them.
 */
function checkConditioningShapes(handle: ModelHandle, binding: DenoiserBinding, condFeeds: Record<string, ModelFeed>, sampleDims: readonly number[]): void {
  const seen = new Map<string, { size: number; from: string }>();
  const tie = (info: TensorInfo, dims: readonly number[], what: string) => {
    info.shape.forEach((d, k) => {
      if (typeof d !== 'string') return;
      const first = seen.get(d);
      if (!first) seen.set(d, { size: dims[k], from: what });
      else if (first.size !== dims[k]) {
        throw new Error(`${what} has ${dims[k]} along the model's "${d}" axis (axis ${k} of input "${info.name}" ${declaredShapeString(info.shape)}), where ${first.from} has ${first.size}`);
      }
    });
  };
  const batch = sampleDims[0] ?? 1;
  tie(binding.sample, sampleDims, `the latent [${sampleDims.join(', ')}]`);
  tie(binding.timestep, timestepDims(binding.timestep, batch), `the timestep feed`);
  if (binding.timestepR) tie(binding.timestepR, timestepDims(binding.timestepR, batch), `the interval-end feed`);
  for (const [name, feed] of Object.entries(condFeeds)) {
    const info = handle.denoiser.inputs.find((i) => i.name === name)!;
    const what = `conditioning input "${name}" [${feed.dims.join(', ')}]`;
    if (info.shape.length === 0) continue; // rank unknown to the runtime
    const fits = info.shape.length === feed.dims.length && info.shape.every((d, k) => typeof d !== 'number' || d < 0 || d === feed.dims[k]);
    if (!fits) throw new Error(`${what} does not fit the model input's shape ${declaredShapeString(info.shape)}: check the file loaded for it`);
    tie(info, feed.dims, what);
  }
}

/** Writes t into every entry of a timestep feed (integers truncated toward zero, as timestepFeed). */
export function setTimestep(feed: ModelFeed, t: number): void {
  const data = feed.data;
  if (data instanceof BigInt64Array) data.fill(BigInt(Math.trunc(t)));
  else if (data instanceof Int32Array) data.fill(Math.trunc(t));
  else if (data instanceof Uint16Array) throw new Error('internal: a float16 timestep feed is sent as float32 and converted by the session');
  else data.fill(t);
}

/**
 * Converts a raw model output at level sigma into a Prediction in sampling variables. `x` is the state in
 * sampling variables (VE for 'vp'). VP with alpha = 1/sqrt(s^2+1): x_ve = D + s*eps; v = alpha*eps - s*alpha*x0.
 * Flow (x = (1 - t) x0 + t eps, velocity v = eps - x0): from v, D = x - t v and eps = x + (1 - t) v; from
 * eps, D = (x - t eps)/(1 - t); from x0, eps = (x - (1 - t) x0)/t.
 */
export function predictionFromOutput(out: Tensor, x: Tensor, sigma: number, space: SigmaSpace, type: PredictionType): Prediction {
  if (!out.sameShape(x)) {
    if (out.size !== x.size) throw new Error(`model output shape ${out.shapeString()} does not match the sample shape ${x.shapeString()}`);
    out = out.reshape(x.dims);
  }
  if (space === 'flow') return flowPrediction(out, x, sigma, type);
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  switch (type) {
    case 'epsilon':
      return new DeferredPrediction(out, x, -sigma);
    case 'sample': {
      if (sigma === 0) throw new Error('an x0-predicting model cannot be evaluated at sigma 0');
      const eps = axpby(1 / sigma, x, -1 / sigma, out);
      return { denoised: out, eps, derivative: eps };
    }
    case 'v_prediction': {
      const eps = axpby(sigma * alpha * alpha, x, alpha, out);
      return { denoised: axpby(alpha * alpha, x, -sigma * alpha, out), eps, derivative: eps };
    }
    case 'flow':
      throw new Error('prediction_type "flow" (velocity) needs a flow-matching model');
  }
}

function flowPrediction(out: Tensor, x: Tensor, t: number, type: PredictionType): Prediction {
  switch (type) {
    case 'flow':
      return new DeferredPrediction(out, x, -t, 1 - t);
    case 'epsilon': {
      if (t === 1) throw new Error('an eps-predicting flow model cannot give x0 at t = 1 (pure noise)');
      const c = 1 / (1 - t);
      return { denoised: axpby(c, x, -t * c, out), eps: out, derivative: axpby(-c, x, c, out) };
    }
    case 'sample': {
      if (t === 0) throw new Error('an x0-predicting model cannot be evaluated at t = 0');
      const c = 1 / t;
      return { denoised: out, eps: axpby(c, x, -(1 - t) * c, out), derivative: axpby(c, x, -c, out) };
    }
    case 'v_prediction':
      throw new Error('prediction_type "v_prediction" is defined for VP models (alpha^2 + sigma^2 = 1), not flow models');
  }
}

/**
 * The prediction type of a model: `override` when given, else the handle's own (a Model Sampling node's);
 * otherwise VP models read scheduler.prediction_type (default epsilon) and flow models predict velocity
 * unless a (non-FlowMatch) config declares epsilon or sample.
 */
export function predictionType(handle: Pick<ModelHandle, 'scheduler' | 'predictionType'>, space: SigmaSpace, override?: PredictionType): PredictionType {
  const cls = handle.scheduler._class_name;
  // FlowMatch schedulers have no prediction_type key (diffusers ignores one): their models predict velocity.
  // SCMScheduler's "trigflow" is the TrigFlow output SanaSprintPipeline makes from the transformer's velocity (scm.ts).
  const velocity = typeof cls === 'string' && (cls.startsWith('FlowMatch') || (cls === 'SCMScheduler' && (handle.scheduler.prediction_type ?? 'trigflow') === 'trigflow'));
  const declared = velocity ? undefined : handle.scheduler.prediction_type;
  const type = override ?? handle.predictionType ?? parsePredictionType(declared ?? (space === 'flow' ? 'flow' : 'epsilon'), 'scheduler config prediction_type');
  if (space === 'vp' && type === 'flow') throw new Error('prediction type "flow" (velocity) needs a flow-matching model; this model is a VP model');
  if (space === 'flow' && type === 'v_prediction') throw new Error('prediction type "v_prediction" needs a VP model; this model is a flow model');
  return type;
}

// ---------------------------------------------------------------------------------------------
// x0 limits (clip_sample, dynamic thresholding)

/** diffusers clip_sample (clamp x0 to [-range, range]) or Imagen dynamic thresholding (per sample). */
export type DenoisedLimit = { kind: 'clip'; range: number } | { kind: 'threshold'; ratio: number; maxValue: number };

export interface PredictionLimit {
  limit: DenoisedLimit;
  /**
   * Keep the model's eps after limiting x0 (DDIMScheduler without use_clipped_model_output); otherwise eps
   * and the derivative are recomputed from the limited x0 (DPM-Solver noise form, DEIS, Heun, UniPC).
   */
  keepEps?: boolean;
}

/** torch.quantile (linear interpolation) of a copy of the values. */
function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Limits an x0 prediction. Thresholding: per batch element s = quantile(|x0|, ratio) clamped to
 * [1, sample_max_value], then x0 = clamp(x0, -s, s) / s (fact sheet 3.1).
 */
export function limitDenoisedTensor(x0: Tensor, limit: DenoisedLimit): Tensor {
  if (limit.kind === 'clip') {
    const r = limit.range;
    if (!(r > 0)) throw new Error(`clip_sample_range must be positive, got ${r}`);
    return new Tensor(x0.dims, x0.data.map((v) => Math.min(Math.max(v, -r), r)));
  }
  const { ratio, maxValue } = limit;
  if (!(ratio > 0 && ratio <= 1)) throw new Error(`dynamic_thresholding_ratio must be in (0, 1], got ${ratio}`);
  const batch = x0.dims.length > 1 ? x0.dims[0] : 1;
  const per = x0.size / batch;
  const out = new Tensor(x0.dims);
  for (let b = 0; b < batch; b++) {
    const slice = x0.data.subarray(b * per, (b + 1) * per);
    const s = Math.min(Math.max(quantile(slice.map(Math.abs), ratio), 1), maxValue);
    for (let k = 0; k < per; k++) out.data[b * per + k] = Math.min(Math.max(slice[k], -s), s) / s;
  }
  return out;
}

/** Applies a limit to a Prediction at level sigma, keeping eps/derivative consistent unless keepEps. */
export function limitPrediction(pred: Prediction, x: Tensor, sigma: number, space: SigmaSpace, opts: PredictionLimit): Prediction {
  const denoised = limitDenoisedTensor(pred.denoised, opts.limit);
  // A guided call's unconditional x0 passes through as it is (only the guided prediction is limited).
  const uncond = pred.uncondDenoised ? { uncondDenoised: pred.uncondDenoised } : {};
  if (opts.keepEps || sigma === 0) return { denoised, eps: pred.eps, derivative: pred.derivative, ...uncond };
  if (space === 'flow') {
    const c = 1 / sigma;
    return {
      denoised,
      eps: axpby(c, x, -(1 - sigma) * c, denoised),
      derivative: axpby(c, x, -c, denoised),
      ...uncond,
    };
  }
  const eps = axpby(1 / sigma, x, -1 / sigma, denoised);
  return { denoised, eps, derivative: eps, ...uncond };
}

/**
 * The x0 limit a solver applies for a config, per its diffusers class: DDIM (thresholding, else
 * clip_sample; eps kept), Heun (clip_sample), DPM-Solver / UniPC / DEIS (thresholding); none for the others.
 * A config that does not mention clip_sample gets the class default, as DDIMScheduler.from_config gives
 * it: DDIM clips x0 to [-1, 1] even on, say, an SDXL Euler config (set clip_sample false to avoid it).
 * Flow-matching configs are the exception: DDIM there is flow Euler, which diffusers has no DDIM for.
 */
export function denoisedLimitFromConfig(cfg: SchedulerConfig, solver: string): PredictionLimit | undefined {
  const cls = schedulerClassFor(solver);
  const threshold = (): DenoisedLimit | undefined =>
    cfgBool(cfg, 'thresholding', false)
      ? { kind: 'threshold', ratio: cfgNumber(cfg, 'dynamic_thresholding_ratio', 0.995), maxValue: cfgNumber(cfg, 'sample_max_value', 1) }
      : undefined;
  const clip = (fallback: boolean): DenoisedLimit | undefined =>
    cfgBool(cfg, 'clip_sample', fallback) ? { kind: 'clip', range: cfgNumber(cfg, 'clip_sample_range', 1) } : undefined;
  let limit: DenoisedLimit | undefined;
  if (cls === 'DDPMScheduler') {
    // DDPMScheduler: clip_sample defaults to true; its update reads only x0 and the sample.
    limit = threshold() ?? clip(true);
    return limit && { limit };
  }
  if (cls === 'DDIMScheduler') {
    const own = cfg._class_name;
    limit = threshold() ?? clip(!(typeof own === 'string' && own.startsWith('FlowMatch')));
    return limit && { limit, keepEps: true };
  }
  if (cls === 'HeunDiscreteScheduler') limit = clip(false);
  else if (cls === 'LCMScheduler') limit = threshold() ?? clip(false);
  else if (SCHEDULER_RULES[cls].family === 'multistep') limit = threshold();
  // UniPC's noise-prediction form (predict_x0 false) never thresholds.
  if (cls === 'UniPCMultistepScheduler' && cfg.predict_x0 === false) limit = undefined;
  return limit && { limit };
}


export interface DenoiserOptions {
  space: SigmaSpace;
  /** Overrides the config's prediction_type (node param). */
  predictionType?: PredictionType;
  /** Limits each x0 prediction (see denoisedLimitFromConfig); leave unset when the solver limits x0 itself. */
  limit?: PredictionLimit;
  /** Extra named inputs (text embeddings, ...), fed as float tensors. */
  conditioning?: Conditioning;
  signal?: AbortSignal;
}

/** Same rank and sizes (plain loop: runs on every model call). */
/**
 * The latent and conditioning checks a model call needs, run only when the latent's shape changes (a sampler
 * calls with one shape throughout, so a step pays one comparison).
 */
export function feedShapeChecker(handle: ModelHandle, binding: DenoiserBinding, condFeeds: Record<string, ModelFeed>): (dims: readonly number[]) => void {
  let checkedDims: readonly number[] | undefined;
  return (dims) => {
    if (sameDims(checkedDims, dims)) return;
    checkLatentShape(binding, dims);
    checkConditioningShapes(handle, binding, condFeeds, dims);
    checkedDims = dims.slice();
  };
}

function sameDims(a: readonly number[] | undefined, b: readonly number[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/** The conditioning's tensors as feeds, each checked against the denoiser's declared inputs. */
export function conditioningFeeds(handle: ModelHandle, binding: DenoiserBinding, conditioning: Conditioning | undefined): Record<string, ModelFeed> {
  const feeds: Record<string, ModelFeed> = {};
  for (const [name, t] of Object.entries(conditioning?.feeds ?? {})) {
    const info = handle.denoiser.inputs.find((i) => i.name === name);
    if (!info) throw new Error(`conditioning input "${name}" is not an input of the denoiser (inputs: ${describeInputs(handle.denoiser.inputs)})`);
    if (info === binding.timestepR) throw new Error(`conditioning input "${name}" is the network's interval end, which the sampler feeds (the grid's next level): leave it out of the conditioning`);
    if (info === binding.sample || info === binding.timestep) {
      throw new Error(`conditioning input "${name}" is the network's ${info === binding.sample ? 'sample' : 'timestep'} input, which the sampler feeds: leave it out of the conditioning`);
    }
    const declared = feedType(info);
    feeds[name] = { dims: t.dims, data: t.data, type: declared === 'float16' ? 'float16' : 'float32' };
  }
  return feeds;
}

/**
 * Every network input besides the sample and the times comes from the conditioning: say which are missing
 * when the run is set up, and how to give them, instead of failing at the first model call.
 */
export function checkEveryInputFed(handle: ModelHandle, binding: DenoiserBinding, condFeeds: Record<string, ModelFeed>, fedElsewhere: readonly string[] = []): void {
  const missing = handle.denoiser.inputs.filter(
    (i) => i !== binding.sample && i !== binding.timestep && i !== binding.timestepR && !(i.name in condFeeds) && !fedElsewhere.includes(i.name),
  );
  if (missing.length === 0) return;
  const list = missing.map((i) => `"${i.name}" ${declaredShapeString(i.shape)}`).join(', ');
  const given = Object.keys(condFeeds);
  throw new Error(
    `missing input ${list}: the model takes ${missing.length === 1 ? 'it' : 'them'} besides its sample and timestep, and ${given.length ? `the conditioning gives only ${given.map((n) => `"${n}"`).join(', ')}` : 'no conditioning is connected'}; connect a conditioning that holds ${missing.length === 1 ? 'it' : 'them'} (Load Conditioning, one per input, chained)`,
  );
}

/** Which network inputs are batched along the sample's batch axis (their first dim is the sample's). */
export function batchedInputs(handle: Pick<ModelHandle, 'denoiser' | 'denoiserKind'>): (name: string) => boolean {
  const batchAxis = bindDenoiser(handle).sample.shape[0];
  return (name) => {
    const info = handle.denoiser.inputs.find((i) => i.name === name);
    return info !== undefined && info.shape.length > 0 && info.shape[0] === batchAxis;
  };
}

/**
 * Conditioning for a latent of `batch` samples. A feed whose network input is batched along the sample's batch
 * axis and that holds one sample (one prompt) is repeated for every latent sample, as diffusers'
 * num_images_per_prompt and ComfyUI's conditioning over a latent batch do; a feed of `batch` samples is kept,
 * one per sample. Other batch sizes are refused, naming the input. Inputs without a batch axis (FLUX's img_ids,
 * txt_ids) are fed as they are. `what` names the conditioning in errors.
 */
export function conditioningForBatch(handle: ModelHandle, conditioning: Conditioning | undefined, batch: number, what = 'conditioning'): Conditioning | undefined {
  // A latent of one sample is checked too: two prompts for it reached ORT, whose message named the batch
  // axis (doubled under CFG) instead of the conditioning.
  if (!conditioning) return conditioning;
  const batched = batchedInputs(handle);
  let changed = false;
  const feeds: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(conditioning.feeds)) {
    if (!batched(name) || t.rank === 0 || t.dims[0] === batch) {
      feeds[name] = t;
      continue;
    }
    if (t.dims[0] !== 1) {
      throw new Error(`${what} input "${name}" holds ${t.dims[0]} samples (shape ${t.shapeString()}) and the latent ${batch}: give one per latent sample, or one for all of them`);
    }
    const out = new Tensor([batch, ...t.dims.slice(1)]);
    for (let k = 0; k < batch; k++) out.data.set(t.data, k * t.size);
    feeds[name] = out;
    changed = true;
  }
  return changed ? { ...conditioning, feeds } : conditioning;
}

/**
 * Builds the DenoiseFn for a MODEL. Per call it does only what changes per call: the shape check is
 * skipped while the latent shape stays the one last checked, the timestep feed's dims are worked out once
 * per batch size, and the scaled sample is written into a buffer reused from the previous call (a call
 * made while another is in flight gets its own), so a step allocates no input copy. Sessions must
 * therefore not keep feed data past the end of their run() (OrtModelSession hands it to ORT and lets go).
 */
export function createDenoiseFn(handle: ModelHandle, opts: DenoiserOptions): DenoiseFn {
  const binding = bindDenoiser(handle);
  const type = predictionType(handle, opts.space, opts.predictionType);
  const condFeeds = conditioningFeeds(handle, binding, opts.conditioning);
  const condNames = Object.keys(condFeeds);
  checkEveryInputFed(handle, binding, condFeeds);
  const sampleType = feedType(binding.sample);
  const { space, limit, signal } = opts;
  // EDM-preconditioned networks (edm.ts): their own input scale and output conversion, in VE variables.
  const edm = space === 'vp' ? edmParams(handle.scheduler) : undefined;
  // Consistency models (cm.ts): the same input scale, the consistency function's boundary scalings on output.
  const cm = space === 'vp' ? cmParams(handle.scheduler) : undefined;
  // Lumina 2 / Z-Image networks run the flow backwards (model-time.ts): they take 1 - t; they, HiDream and
  // NucleusMoE predict x0 - noise, the velocity negated.
  const reversedEnd = space === 'flow' && reversedFlowTime(handle.modelIndex) ? (timestepUnits(handle.modelIndex) === 'fraction' ? 1 : trainTimesteps(handle.scheduler)) : undefined;
  // The sign belongs to the velocity: an overridden prediction type reads the raw output as it is.
  const negate = space === 'flow' && type === 'flow' && negatedFlowOutput(handle.modelIndex);
  if (edm && opts.predictionType !== undefined) throw new Error('an EDM model takes its prediction type from its scheduler config (EDM preconditioning); leave the override unset');
  if (cm && opts.predictionType !== undefined) throw new Error('a consistency model (CMStochasticIterativeScheduler) outputs its consistency function; leave the prediction type override unset');
  const sampleName = binding.sample.name;
  const timestepName = binding.timestep.name;
  // A mean-flow network's interval end: the timestep of the level the step lands on.
  const rInfo = binding.timestepR;
  const intervalEnd = (level: ModelLevel): number => {
    // Between grid levels, and on an upward (inversion) step, r = t: a mean-flow network learns r <= t.
    if (level.nextSigma === undefined || level.nextSigma > level.sigma) return level.timestep;
    if (level.nextTimestep !== undefined) return level.nextTimestep;
    // The schedule's last step: HunyuanImagePipeline feeds 0 there, wherever its grid ends.
    return 0;
  };
  const checkShapes = feedShapeChecker(handle, binding, condFeeds);
  let spare: Float32Array | undefined;
  let spareTimestep: ModelFeed | undefined;
  let timestepBatch = 0;
  return async (x, level) => {
    checkShapes(x.dims);
    const c = edm ? edmInputScale(edm, level.sigma) : cm ? cmInputScale(cm, level.sigma) : modelInputScale(space, level.sigma);
    if (!Number.isFinite(c)) throw new Error(`model input scale ${c} at sigma ${level.sigma} is not finite`);
    // Flow models see the state itself (scale 1): no copy. Otherwise the scaled copy, in a reused buffer.
    let input: Float32Array | undefined;
    if (c !== 1) {
      input = spare !== undefined && spare.length === x.size ? spare : new Float32Array(x.size);
      spare = undefined; // taken: a concurrent call allocates its own
      scaleInto(input, c, x.data);
    }
    // The timestep feed is reused the same way (same dims and array: the session can reuse its tensor).
    const batch = x.dims[0] ?? 1;
    const t = reversedEnd === undefined ? level.timestep : reversedEnd - level.timestep;
    let timestep = spareTimestep;
    spareTimestep = undefined;
    if (timestep !== undefined && timestepBatch === batch) setTimestep(timestep, t);
    else timestep = timestepFeed(binding.timestep, t, batch);
    const feeds: Record<string, ModelFeed> = {};
    for (let k = 0; k < condNames.length; k++) feeds[condNames[k]] = condFeeds[condNames[k]];
    feeds[sampleName] = { dims: x.dims, data: input ?? x.data, type: sampleType };
    feeds[timestepName] = timestep;
    if (rInfo) {
      const r = intervalEnd(level);
      feeds[rInfo.name] = timestepFeed(rInfo, reversedEnd === undefined ? r : reversedEnd - r, batch);
    }
    let outputs: Record<string, Tensor>;
    try {
      outputs = await handle.denoiser.run(feeds, signal);
    } finally {
      if (input !== undefined) spare = input;
      spareTimestep = timestep;
      timestepBatch = batch;
    }
    let out = outputs[binding.output] ?? firstValue(outputs);
    if (!out) throw new Error(`denoiser returned no output "${binding.output}"`);
    out = predictionChannels(out, x);
    if (negate) out = negated(out);
    const s = level.sigma;
    const pred = edm
      ? preconditionedPrediction('an EDM model', out, x, s, (f) => edmDenoised(edm, f, x, s))
      : cm
        ? preconditionedPrediction('a consistency model', out, x, s, (f) => cmDenoised(cm, f, x, s))
        : predictionFromOutput(out, x, s, space, type);
    return limit ? limitPrediction(pred, x, level.sigma, space, limit) : pred;
  };
}

function negated(t: Tensor): Tensor {
  const out = new Tensor(t.dims);
  scaleInto(out.data, -1, t.data);
  return out;
}

/**
 * The Prediction of a preconditioned network's output F at VE level s, D = toDenoised(F) (EDM: c_skip x + c_out F;
 * a consistency model: its consistency function), eps = (x - D) / s.
 */
function preconditionedPrediction(kind: string, out: Tensor, x: Tensor, s: number, toDenoised: (out: Tensor) => Tensor): Prediction {
  if (!out.sameShape(x)) {
    if (out.size !== x.size) throw new Error(`model output shape ${out.shapeString()} does not match the sample shape ${x.shapeString()}`);
    out = out.reshape(x.dims);
  }
  if (!(s > 0)) throw new Error(`${kind} cannot be evaluated at sigma ${s}`);
  const denoised = toDenoised(out);
  const eps = axpby(1 / s, x, -1 / s, denoised);
  return { denoised, eps, derivative: eps };
}

/**
 * Models trained with a learned variance output [prediction; variance] along channels: DeepFloyd IF
 * (variance_type learned / learned_range, split by the scheduler), PixArt and DiT (learn_sigma, split by the
 * pipeline whenever the transformer's out_channels is twice the latent's, whatever the scheduler config
 * says). Either way the first half is kept, since the ODE solvers have no use for the variance.
 */
function predictionChannels(out: Tensor, x: Tensor): Tensor {
  if (out.rank !== 4 || x.rank !== 4 || out.dims[1] !== 2 * x.dims[1] || out.dims[0] !== x.dims[0]) return out;
  const [b, c2, h, w] = out.dims;
  const c = c2 / 2;
  const plane = c * h * w;
  const pred = new Tensor([b, c, h, w]);
  for (let i = 0; i < b; i++) pred.data.set(out.data.subarray(i * 2 * plane, i * 2 * plane + plane), i * plane);
  return pred;
}

function firstValue(record: Record<string, Tensor>): Tensor | undefined {
  for (const k in record) return record[k];
  return undefined;
}
