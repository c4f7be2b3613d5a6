/**
 * JSON-safe summaries of port values, for the CLI's stdout summary and for transports that cannot
 * carry tensors inline.
 */
import { Tensor } from '../../nodes/core/tensor.ts';

export type ValueSummary =
  | { kind: 'tensor'; dims: number[]; min: number; max: number; mean: number }
  | { kind: 'scalar'; value: number | string | boolean }
  /** fallbackFrom: the providers preferred over `provider` that could not load the model, and why. */
  | { kind: 'model'; name: string; folder: string; provider: string; fallbackFrom?: { provider: string; error: string }[] }
  /** A schedule: its levels and each step's model timestep (the first SIGMAS_SUMMARY_LIMIT of them). */
  | { kind: 'sigmas'; space: string; steps: number; first: number; last: number; levels: number[]; timesteps: number[] }
  | { kind: 'metrics'; values: Record<string, number> }
  | { kind: 'object'; description: string };

/** The most steps a schedule's summary lists (a Schedule node allows 1000; an extended one may have more). */
export const SIGMAS_SUMMARY_LIMIT = 1000;

export function summarizeTensor(t: Tensor): ValueSummary {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  const d = t.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { kind: 'tensor', dims: [...t.dims], min, max, mean: t.size ? sum / t.size : 0 };
}

export function summarizeValue(v: unknown): ValueSummary {
  if (v instanceof Tensor) return summarizeTensor(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return { kind: 'scalar', value: v };
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('denoiser' in o && 'folder' in o) {
      const d = o.denoiser as { provider?: string; providerFailures?: readonly { provider: string; error: string }[] };
      const summary: ValueSummary = { kind: 'model', name: String(o.name), folder: String(o.folder), provider: String(d?.provider ?? '') };
      if (d?.providerFailures?.length) summary.fallbackFrom = d.providerFailures.map((f) => ({ provider: f.provider, error: f.error }));
      return summary;
    }
    if (Array.isArray(o.sigmas) && Array.isArray(o.timesteps)) {
      const s = o.sigmas as number[];
      const t = o.timesteps as number[];
      return { kind: 'sigmas', space: String(o.space), steps: t.length, first: s[0], last: s[s.length - 1], levels: s.slice(0, SIGMAS_SUMMARY_LIMIT + 1), timesteps: t.slice(0, SIGMAS_SUMMARY_LIMIT) };
    }
    if (o.values && typeof o.values === 'object' && !Array.isArray(o.values)) {
      return { kind: 'metrics', values: { ...(o.values as Record<string, number>) } };
    }
    return { kind: 'object', description: Object.keys(o).join(', ') };
  }
  return { kind: 'object', description: String(v) };
}

/** A tensor as plain data (structured-clone and JSON-header friendly). */
export interface TensorData {
  dims: number[];
  data: Float32Array;
}

/**
 * A port value with its numbers, for the debug views (EngineAPI.readOutput). Only the kinds the views
 * can show: tensors, trajectories, metrics and scalars.
 */
export type OutputValue =
  | { kind: 'tensor'; dims: number[]; data: Float32Array }
  | { kind: 'trajectory'; sigmas: number[]; states: TensorData[]; denoised: TensorData[] }
  | { kind: 'metrics'; values: Record<string, number>; series?: Record<string, number[]> }
  | { kind: 'scalar'; value: number | string | boolean };

/** Copies, so a caller can never write into the executor's cached tensors. */
function tensorData(t: Tensor): TensorData {
  return { dims: [...t.dims], data: t.data.slice() };
}

/**
 * The OutputValue of a port value, or a clear error naming `where` (e.g. "sampler.model") when its kind
 * (a model, a schedule, conditioning, ...) has no numbers to show.
 */
export function outputValueOf(v: unknown, where: string): OutputValue {
  if (v instanceof Tensor) return { kind: 'tensor', ...tensorData(v) };
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return { kind: 'scalar', value: v };
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const tensors = (a: unknown) => Array.isArray(a) && a.every((t) => t instanceof Tensor);
    if (Array.isArray(o.sigmas) && tensors(o.states) && tensors(o.denoised)) {
      return {
        kind: 'trajectory',
        sigmas: [...(o.sigmas as number[])],
        states: (o.states as Tensor[]).map(tensorData),
        denoised: (o.denoised as Tensor[]).map(tensorData),
      };
    }
    if (o.values && typeof o.values === 'object' && !Array.isArray(o.values) && !('sigmas' in o)) {
      const series = o.series as Record<string, number[]> | undefined;
      return {
        kind: 'metrics',
        values: { ...(o.values as Record<string, number>) },
        ...(series ? { series: Object.fromEntries(Object.entries(series).map(([k, s]) => [k, [...s]])) } : {}),
      };
    }
  }
  // BadRequestError: the transports answer it as the caller's mistake (HTTP 400), not an engine failure.
  const e = new Error(`readOutput: output ${where} is a ${summarizeValue(v).kind} value, which has no tensor, trajectory, metrics or scalar data to read`);
  e.name = 'BadRequestError';
  throw e;
}
