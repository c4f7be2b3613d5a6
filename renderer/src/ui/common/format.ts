/** How values read on nodes and in panels: short numbers, file names instead of paths, durations. */
import type { ParamDescription } from '../../../../electron/engine/graph/describe.ts';
import type { ParamView } from '../../graph/view-model.ts';
import type { NodeProgress } from '../../state/run-state.ts';
import type { MemoryReport, MemoryStatus } from '../../../../electron/engine/api.ts';

export type ParamValue = string | number | boolean;

/** The last path segment, so long model folders and output paths stay readable on a node. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : path;
}

/** One short line per visible param for the node body: "Steps 50", "Model gaussian-vp". */
export function summarizeParams(params: readonly ParamView[], limit = 5): { name: string; label: string; value: string; isDefault: boolean }[] {
  return params
    .filter((p) => p.visible)
    .slice(0, limit)
    .map((p) => ({ name: p.param.name, label: p.param.label ?? p.param.name, value: formatValue(p.param, p.value), isDefault: p.isDefault }));
}

export function formatValue(spec: ParamDescription, value: ParamValue): string {
  switch (spec.kind) {
    case 'file': {
      const s = String(value);
      if (!s) return '—';
      return s.startsWith('embedded:') ? s.slice('embedded:'.length) : baseName(s);
    }
    case 'float':
      return typeof value === 'number' ? formatNumber(value) : String(value);
    case 'boolean':
      return value ? 'on' : 'off';
    case 'string': {
      const s = String(value).replace(/\s+/g, ' ').trim();
      return s.length > 28 ? `${s.slice(0, 27)}…` : s || '—';
    }
    default:
      return String(value);
  }
}

/** Up to 4 significant digits without trailing zeros; tiny and huge values in exponent form. */
export function formatNumber(v: number): string {
  // PSNR of identical tensors is Infinity.
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '∞' : '−∞';
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

export function formatMs(ms: number): string {
  if (ms < 1) return '<1 ms';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m ${Math.round((ms % 60_000) / 1000)}s`;
}

/** A node's progress, short: "3/20" in steps, "37%" in percent. */
export function formatProgress(p: NodeProgress): string {
  return p.unit === 'percent' ? `${p.step}%` : `${p.step}/${p.total}`;
}

/** A node's progress in words: "step 3 of 20", "37% done". */
export function describeProgress(p: NodeProgress): string {
  return p.unit === 'percent' ? `${p.step}% done` : `step ${p.step} of ${p.total}`;
}

/** Bytes in binary units: "512 B", "3.4 KiB", "340 MiB", "1.25 GiB". */
export function formatBytes(bytes: number): string {
  if (!(bytes >= 1024)) return `${Math.max(0, Math.round(bytes || 0))} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number(v.toPrecision(3))} ${units[u]}`;
}

/** What Free memory did, in one sentence: "Unloaded 2 models and dropped 340 MiB of cached results." */
export function describeFreedMemory(r: MemoryReport): string {
  const parts: string[] = [];
  if (r.modelsUnloaded > 0) parts.push(`unloaded ${r.modelsUnloaded} model${r.modelsUnloaded === 1 ? '' : 's'}`);
  if (r.cacheBytesFreed > 0) parts.push(`dropped ${formatBytes(r.cacheBytesFreed)} of cached results`);
  const done = parts.length ? `${parts.join(' and ')}.` : 'nothing to free.';
  const busy = r.modelsLoaded > 0 ? ` ${r.modelsLoaded} model${r.modelsLoaded === 1 ? '' : 's'} in use by a run stay${r.modelsLoaded === 1 ? 's' : ''} loaded.` : '';
  return `${done[0].toUpperCase()}${done.slice(1)}${busy}`;
}

/** The status bar's memory line, short, and its tooltip. */
export function describeMemory(m: MemoryStatus): { text: string; title: string } {
  const models = m.modelsLoaded === 0 ? 'no model loaded' : `${m.modelsLoaded} model${m.modelsLoaded === 1 ? '' : 's'} loaded`;
  const cached = m.cacheBytes + m.cacheBytesOnDisk > 0 ? `${formatBytes(m.cacheBytes + m.cacheBytesOnDisk)} cached` : 'nothing cached';
  const title =
    `Models loaded: ${m.modelsLoaded} (${formatBytes(m.modelBytes)} on disk)\n` +
    `Cached node outputs: ${formatBytes(m.cacheBytes)} in memory, ${formatBytes(m.cacheBytesOnDisk)} on disk\n` +
    'Engine ▸ Free memory releases them.';
  return { text: `${models} · ${cached}`, title };
}
