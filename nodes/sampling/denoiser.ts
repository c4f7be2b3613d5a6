/**
 * Wraps a MODEL's denoiser network as the DenoiseFn the solvers call: scales the state into the model's
 * variables, builds the timestep feed in the dtype the network declares, and converts the raw output
 * (eps, x0, v or flow velocity) into a Prediction in sampling variables (fact sheet section 1).
 */
import { Tensor } from '../core/tensor.ts';
import type { Conditioning, ModelFeed, ModelHandle, SigmaSpace, TensorInfo } from '../core/values.ts';
import { linearCombination, scale } from './ops.ts';
import { modelInputScale, type DenoiseFn, type Prediction } from './solver.ts';

export const PREDICTION_TYPES = ['epsilon', 'sample', 'v_prediction', 'flow'] as const;
export type PredictionType = (typeof PREDICTION_TYPES)[number];

const TIMESTEP_NAMES = ['timestep', 'timesteps', 't', 'time'];
const FLOAT_TYPES = ['float32', 'float16', 'float64'];

/** Which network inputs carry the sample and the timestep, and which output is the prediction. */
export interface DenoiserBinding {
  sample: TensorInfo;
  timestep: TensorInfo;
  output: string;
}

function describeInputs(inputs: readonly TensorInfo[]): string {
  return inputs.map((i) => `${i.name} (${i.type} [${i.shape.join(', ')}])`).join(', ') || 'none';
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
  const timestep =
    inputs.find((i) => TIMESTEP_NAMES.includes(i.name)) ??
    inputs.find((i) => i !== sample && i.shape.length <= 1 && (FLOAT_TYPES.includes(i.type) || i.type.startsWith('int')));
  if (!timestep) throw new Error(`denoiser ${handle.denoiser.file}: no timestep input found (inputs: ${describeInputs(inputs)})`);
  if (!FLOAT_TYPES.includes(sample.type)) throw new Error(`denoiser input "${sample.name}" has element type ${sample.type}, expected a float type`);
  if (outputs.length === 0) throw new Error(`denoiser ${handle.denoiser.file}: the network has no outputs`);
  return { sample, timestep, output: outputs[0].name };
}

/** Throws when a latent cannot be fed to the sample input (rank or any fixed dimension differs). */
export function checkLatentShape(binding: DenoiserBinding, dims: readonly number[]): void {
  const declared = binding.sample.shape;
  const fits = declared.length === dims.length && declared.every((d, k) => typeof d !== 'number' || d < 0 || d === dims[k]);
  if (!fits) {
    throw new Error(
      `latent shape [${dims.join(', ')}] does not match the model input "${binding.sample.name}" shape [${declared.join(', ')}]`,
    );
  }
}

function feedType(info: TensorInfo): ModelFeed['type'] {
  const t = info.type;
  if (t === 'float32' || t === 'float16' || t === 'float64' || t === 'int64' || t === 'int32') return t;
  throw new Error(`model input "${info.name}" has unsupported element type ${t}`);
}

/**
 * The timestep feed: the declared shape (symbolic dims = batch, scalar when rank 0), every entry t.
 * Integer inputs get t truncated toward zero, as diffusers' ONNX pipelines' np.array([t], dtype) does.
 */
export function timestepFeed(info: TensorInfo, t: number, batch: number): ModelFeed {
  if (info.shape.length > 1) throw new Error(`timestep input "${info.name}" has rank ${info.shape.length}, expected 0 or 1`);
  const dims = info.shape.map((d) => (typeof d === 'number' && d > 0 ? d : batch));
  const size = dims.reduce((a, b) => a * b, 1);
  const type = feedType(info);
  switch (type) {
    case 'int64':
      return { dims, type, data: new BigInt64Array(size).fill(BigInt(Math.trunc(t))) };
    case 'int32':
      return { dims, type, data: new Int32Array(size).fill(Math.trunc(t)) };
    case 'float64':
      return { dims, type, data: new Float64Array(size).fill(t) };
    default:
      return { dims, type, data: new Float32Array(size).fill(t) };
  }
}

/**
 * Converts a raw model output at level sigma into a Prediction in sampling variables. `x` is the state in
 * sampling variables (VE for 'vp'). VP with alpha = 1/sqrt(s^2+1): x_ve = D + s*eps; v = alpha*eps - s*alpha*x0.
 * Flow: v = eps - x0, so D = x - t v and eps = x + (1 - t) v.
 */
export function predictionFromOutput(out: Tensor, x: Tensor, sigma: number, space: SigmaSpace, type: PredictionType): Prediction {
  if (!out.sameShape(x)) {
    if (out.size !== x.size) throw new Error(`model output shape ${out.shapeString()} does not match the sample shape ${x.shapeString()}`);
    out = out.reshape(x.dims);
  }
  if (space === 'flow') {
    if (type !== 'flow') throw new Error(`flow models predict velocity; prediction_type "${type}" is not supported for them`);
    return {
      denoised: linearCombination([[1, x], [-sigma, out]]),
      eps: linearCombination([[1, x], [1 - sigma, out]]),
      derivative: out,
    };
  }
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  switch (type) {
    case 'epsilon':
      return { denoised: linearCombination([[1, x], [-sigma, out]]), eps: out, derivative: out };
    case 'sample': {
      if (sigma === 0) throw new Error('an x0-predicting model cannot be evaluated at sigma 0');
      const eps = linearCombination([[1 / sigma, x], [-1 / sigma, out]]);
      return { denoised: out, eps, derivative: eps };
    }
    case 'v_prediction': {
      const eps = linearCombination([[sigma * alpha * alpha, x], [alpha, out]]);
      return { denoised: linearCombination([[alpha * alpha, x], [-sigma * alpha, out]]), eps, derivative: eps };
    }
    case 'flow':
      throw new Error('prediction_type "flow" (velocity) needs a flow-matching model');
  }
}

/** The prediction type of a model: flow models predict velocity; VP models read scheduler.prediction_type. */
export function predictionType(handle: Pick<ModelHandle, 'scheduler'>, space: SigmaSpace): PredictionType {
  if (space === 'flow') return 'flow';
  const declared = handle.scheduler.prediction_type ?? 'epsilon';
  if (declared === 'epsilon' || declared === 'sample' || declared === 'v_prediction') return declared;
  throw new Error(`scheduler config: unknown prediction_type ${JSON.stringify(declared)} (expected epsilon, sample or v_prediction)`);
}

export interface DenoiserOptions {
  space: SigmaSpace;
  /** Extra named inputs (text embeddings, ...), fed as float tensors. */
  conditioning?: Conditioning;
  signal?: AbortSignal;
}

/** Builds the DenoiseFn for a MODEL. */
export function createDenoiseFn(handle: ModelHandle, opts: DenoiserOptions): DenoiseFn {
  const binding = bindDenoiser(handle);
  const type = predictionType(handle, opts.space);
  const condFeeds: Record<string, ModelFeed> = {};
  for (const [name, t] of Object.entries(opts.conditioning?.feeds ?? {})) {
    const info = handle.denoiser.inputs.find((i) => i.name === name);
    if (!info) throw new Error(`conditioning input "${name}" is not an input of the denoiser (inputs: ${describeInputs(handle.denoiser.inputs)})`);
    const declared = feedType(info);
    condFeeds[name] = { dims: t.dims, data: t.data, type: declared === 'float16' ? 'float16' : 'float32' };
  }
  const sampleType = feedType(binding.sample);
  return async (x, level) => {
    checkLatentShape(binding, x.dims);
    const input = scale(x, modelInputScale(opts.space, level.sigma));
    const batch = x.dims[0] ?? 1;
    const feeds: Record<string, ModelFeed> = {
      ...condFeeds,
      [binding.sample.name]: { dims: input.dims, data: input.data, type: sampleType },
      [binding.timestep.name]: timestepFeed(binding.timestep, level.timestep, batch),
    };
    const outputs = await handle.denoiser.run(feeds, opts.signal);
    const out = outputs[binding.output] ?? Object.values(outputs)[0];
    if (!out) throw new Error(`denoiser returned no output "${binding.output}"`);
    return predictionFromOutput(out, x, level.sigma, opts.space, type);
  };
}
