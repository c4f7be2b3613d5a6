/**
 * JSON-safe summaries of port values, for the CLI's stdout summary and for transports that cannot
 * carry tensors inline.
 */
import { Tensor } from '../../nodes/core/tensor.ts';

export type ValueSummary =
  | { kind: 'tensor'; dims: number[]; min: number; max: number; mean: number }
  | { kind: 'scalar'; value: number | string | boolean }
  | { kind: 'model'; name: string; folder: string; provider: string }
  | { kind: 'sigmas'; space: string; steps: number; first: number; last: number }
  | { kind: 'metrics'; values: Record<string, number> }
  | { kind: 'object'; description: string };

export function summarizeTensor(t: Tensor): ValueSummary {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of t.data) {
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
      const d = o.denoiser as { provider?: string };
      return { kind: 'model', name: String(o.name), folder: String(o.folder), provider: String(d?.provider ?? '') };
    }
    if (Array.isArray(o.sigmas) && Array.isArray(o.timesteps)) {
      const s = o.sigmas as number[];
      return { kind: 'sigmas', space: String(o.space), steps: (o.timesteps as number[]).length, first: s[0], last: s[s.length - 1] };
    }
    if (o.values && typeof o.values === 'object' && !Array.isArray(o.values)) {
      return { kind: 'metrics', values: { ...(o.values as Record<string, number>) } };
    }
    return { kind: 'object', description: Object.keys(o).join(', ') };
  }
  return { kind: 'object', description: String(v) };
}
