/**
 * What a latent display draws, decided once on the CPU and then executed by either the WebGL2 shader
 * (shaders/latent.frag.glsl) or the CPU fallback, so both paths apply the same numbers:
 *
 *   d_k   = bias_k + sum_l w[l][k] * x_l          (k = R, G, B; l = the latent channels in use)
 *   out_k = clamp01((d_k - lo_k) * scale_k + base_k), NaN -> 0
 *
 * Channel mapping gives one-hot weights (or a fixed projection); normalization picks lo/scale per display
 * channel from statistics of d_k over the image (min/max, mean +- k*std) or a fixed range ([-1, 1] default).
 * Terms with a zero weight are skipped, so a NaN in an unused channel does not spill into another colour.
 */
import { LATENT_PROJECTIONS, type LatentProjectionName } from './latent-projections.ts';
import { selectBatchItem, type TensorLike } from './types.ts';

const VIEW = 'LatentView';

/** Most latent channels one display may combine (the shader's uniform array size). */
export const MAX_LATENT_LAYERS = 32;

/** A latent channel index, or null for an unlit colour. */
export type ChannelIndex = number | null;

export type ChannelMapping =
  /** R, G, B show these channels (default: the first three; 2 channels -> R, G; 1 channel -> grey). */
  | { kind: 'channels'; channels?: readonly [ChannelIndex, ChannelIndex, ChannelIndex] }
  /** A fixed linear projection of a 4-channel SD latent. */
  | { kind: 'projection'; preset: LatentProjectionName }
  /** Any linear projection: `matrix` has one [r, g, b] row per latent channel. */
  | { kind: 'projection'; matrix: readonly (readonly number[])[]; bias?: readonly number[] };

export type Normalization =
  /** Each display channel's min -> 0 and max -> 1. */
  | { mode: 'minmax' }
  /** Each display channel's mean - k*std -> 0 and mean + k*std -> 1 (k defaults to 2). */
  | { mode: 'meanstd'; k?: number }
  /** One range for all channels, [-1, 1] unless given. */
  | { mode: 'fixed'; lo?: number; hi?: number };

export interface LatentDisplayOptions {
  /** Which item of the batch to show (default 0). */
  batchIndex?: number;
  /** Default: the first three channels. */
  mapping?: ChannelMapping;
  /** Default: min/max for channel mapping, fixed [-1, 1] for projections (they target that range). */
  normalize?: Normalization;
}

/** The value range that maps to 0..255 on one display channel; null where the channel is unlit. */
export interface DisplayRange {
  lo: number;
  hi: number;
  /** True when the data has no spread (or no finite values): the channel is shown as mid grey. */
  flat: boolean;
}

export interface LatentPlan {
  width: number;
  height: number;
  /** Number of latent channels the shader reads. */
  layerCount: number;
  /** layerCount planes of height x width, row 0 first. */
  layers: Float32Array;
  /** The latent channel each layer came from. */
  layerChannels: number[];
  /** weights[l * 3 + k]: contribution of layer l to display channel k. */
  weights: Float64Array;
  bias: [number, number, number];
  lo: [number, number, number];
  scale: [number, number, number];
  base: [number, number, number];
  /** Per display channel (R, G, B), for captions. */
  ranges: [DisplayRange | null, DisplayRange | null, DisplayRange | null];
}

export function planLatentDisplay(tensor: TensorLike, options: LatentDisplayOptions = {}): LatentPlan {
  const item = selectBatchItem(VIEW, tensor, options.batchIndex ?? 0);
  const { channels, height, width } = item;
  const mapping = options.mapping ?? { kind: 'channels' };
  const { matrix, bias, lit } = mappingMatrix(mapping, channels);

  // Keep only the channels some colour uses; a contiguous prefix is shared with the tensor, not copied.
  const layerChannels: number[] = [];
  for (let c = 0; c < channels; c++) if (matrix[c].some((w) => w !== 0)) layerChannels.push(c);
  if (layerChannels.length > MAX_LATENT_LAYERS) {
    throw new Error(`${VIEW}: the mapping uses ${layerChannels.length} channels; at most ${MAX_LATENT_LAYERS} can be combined`);
  }
  const plane = width * height;
  const contiguous = layerChannels.every((c, i) => c === i);
  let layers: Float32Array;
  if (contiguous) {
    layers = item.data.subarray(0, layerChannels.length * plane);
  } else {
    layers = new Float32Array(layerChannels.length * plane);
    layerChannels.forEach((c, l) => layers.set(item.data.subarray(c * plane, (c + 1) * plane), l * plane));
  }
  const weights = new Float64Array(layerChannels.length * 3);
  layerChannels.forEach((c, l) => {
    for (let k = 0; k < 3; k++) weights[l * 3 + k] = matrix[c][k];
  });

  const normalize = options.normalize ?? (mapping.kind === 'channels' ? { mode: 'minmax' } : { mode: 'fixed' });
  const plan: LatentPlan = {
    width,
    height,
    layerCount: layerChannels.length,
    layers,
    layerChannels,
    weights,
    bias: [bias[0], bias[1], bias[2]],
    lo: [0, 0, 0],
    scale: [0, 0, 0],
    base: [0, 0, 0],
    ranges: [null, null, null],
  };
  for (let k = 0; k < 3; k++) {
    if (!lit[k]) continue; // weights and bias are 0, scale 0, base 0: black
    const range = displayRange(normalize, plan, k);
    plan.ranges[k] = range;
    if (range.flat) {
      plan.base[k] = 0.5;
    } else {
      plan.lo[k] = range.lo;
      plan.scale[k] = 1 / (range.hi - range.lo);
    }
  }
  return plan;
}

/** The value of display channel k at pixel p before normalization (float64; NaN propagates). */
export function displayValue(plan: LatentPlan, k: number, p: number): number {
  const plane = plan.width * plan.height;
  let d = plan.bias[k];
  for (let l = 0; l < plan.layerCount; l++) {
    const w = plan.weights[l * 3 + k];
    if (w !== 0) d += w * plan.layers[l * plane + p];
  }
  return d;
}

function mappingMatrix(
  mapping: ChannelMapping,
  channels: number,
): { matrix: number[][]; bias: number[]; lit: boolean[] } {
  const matrix = Array.from({ length: channels }, () => [0, 0, 0]);
  if (mapping.kind === 'channels') {
    const picks = mapping.channels ?? defaultChannels(channels);
    if (!Array.isArray(picks) || picks.length !== 3) {
      throw new Error(`${VIEW}: channel mapping needs three entries (R, G, B), got ${JSON.stringify(picks)}`);
    }
    picks.forEach((c, k) => {
      if (c === null) return;
      if (!Number.isInteger(c) || c < 0 || c >= channels) {
        throw new Error(`${VIEW}: channel ${c} for ${'RGB'[k]} is out of range; the latent has ${channels} channels (0..${channels - 1})`);
      }
      matrix[c][k] = 1;
    });
    return { matrix, bias: [0, 0, 0], lit: picks.map((c) => c !== null) };
  }
  if (mapping.kind === 'projection') {
    const projection = 'preset' in mapping ? LATENT_PROJECTIONS[mapping.preset] : mapping;
    if (!projection) {
      throw new Error(`${VIEW}: unknown projection preset '${(mapping as { preset: string }).preset}' (known: ${Object.keys(LATENT_PROJECTIONS).join(', ')})`);
    }
    const rows = projection.matrix;
    const name = 'preset' in mapping ? `'${mapping.preset}' projection` : 'projection';
    if (!Array.isArray(rows) || rows.length !== channels) {
      throw new Error(`${VIEW}: the ${name} expects ${Array.isArray(rows) ? rows.length : '?'} latent channels, the latent has ${channels}`);
    }
    rows.forEach((row, c) => {
      if (!Array.isArray(row) || row.length !== 3 || !row.every(Number.isFinite)) {
        throw new Error(`${VIEW}: ${name} row ${c} must be three finite numbers [r, g, b]`);
      }
      matrix[c] = [row[0], row[1], row[2]];
    });
    const bias = projection.bias ?? [0, 0, 0];
    if (!Array.isArray(bias) || bias.length !== 3 || !bias.every(Number.isFinite)) {
      throw new Error(`${VIEW}: ${name} bias must be three finite numbers [r, g, b]`);
    }
    return { matrix, bias: [...bias], lit: [true, true, true] };
  }
  throw new Error(`${VIEW}: unknown channel mapping kind '${(mapping as { kind: string }).kind}'`);
}

function defaultChannels(channels: number): [ChannelIndex, ChannelIndex, ChannelIndex] {
  if (channels >= 3) return [0, 1, 2];
  if (channels === 2) return [0, 1, null];
  return [0, 0, 0];
}

function displayRange(normalize: Normalization, plan: LatentPlan, k: number): DisplayRange {
  if (normalize.mode === 'fixed') {
    const lo = normalize.lo ?? -1;
    const hi = normalize.hi ?? 1;
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi > lo)) {
      throw new Error(`${VIEW}: fixed range needs finite lo < hi, got [${lo}, ${hi}]`);
    }
    return { lo, hi, flat: false };
  }
  const n = plan.width * plan.height;
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let p = 0; p < n; p++) {
    const d = displayValue(plan, k, p);
    if (!Number.isFinite(d)) continue;
    count++;
    if (d < min) min = d;
    if (d > max) max = d;
    sum += d;
  }
  if (count === 0) return { lo: 0, hi: 0, flat: true };
  let lo: number;
  let hi: number;
  if (normalize.mode === 'minmax') {
    lo = min;
    hi = max;
  } else if (normalize.mode === 'meanstd') {
    const kStd = normalize.k ?? 2;
    if (!Number.isFinite(kStd) || !(kStd > 0)) throw new Error(`${VIEW}: mean +- k*std needs k > 0, got ${kStd}`);
    const mean = sum / count;
    let sq = 0; // second pass: better conditioned than sum of squares
    for (let p = 0; p < n; p++) {
      const d = displayValue(plan, k, p);
      if (Number.isFinite(d)) sq += (d - mean) * (d - mean);
    }
    const std = Math.sqrt(sq / count);
    lo = mean - kStd * std;
    hi = mean + kStd * std;
  } else {
    throw new Error(`${VIEW}: unknown normalization mode '${(normalize as { mode: string }).mode}'`);
  }
  // A spread this small relative to the values cannot be shown in float32 on the GPU either: grey.
  const flat = !(hi - lo > 1e-12 * Math.max(1, Math.abs(lo), Math.abs(hi)));
  return { lo, hi, flat };
}
