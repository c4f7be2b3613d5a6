/** `--set nodeId.param=value` overrides, typed by the node's param declaration. */
import fs from 'node:fs';
import path from 'node:path';
import type { GraphDocument } from '../engine/graph/schema.ts';
import type { NodeRegistry } from '../engine/registry.ts';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** One `nodeId.param=value` override, split; undefined when it has another form. */
function splitSet(s: string): { nodeId: string; param: string; raw: string } | undefined {
  const m = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(s);
  return m ? { nodeId: m[1], param: m[2], raw: m[3] } : undefined;
}

/** Applies overrides to a copy of the graph; values are converted by the param's kind. */
export function applySets(doc: GraphDocument, sets: string[], registry: NodeRegistry): GraphDocument {
  const out: GraphDocument = { ...doc, nodes: doc.nodes.map((n) => ({ ...n, params: { ...n.params } })) };
  for (const s of sets) {
    const set = splitSet(s);
    if (!set) throw new UsageError(`--set expects nodeId.param=value, got "${s}"`);
    const { nodeId, param, raw } = set;
    const node = out.nodes.find((n) => n.id === nodeId);
    if (!node) {
      // A big graph's ids would flood the terminal: the first 20, and how many more.
      const ids = out.nodes.map((n) => n.id);
      const listed = ids.length > 20 ? `${ids.slice(0, 20).join(', ')}, ... (${ids.length} in all)` : ids.join(', ');
      throw new UsageError(`--set ${s}: no node "${nodeId}" in the graph (nodes: ${listed})`);
    }
    const spec = registry.get(node.type)?.params[param];
    if (!spec) throw new UsageError(`--set ${s}: node "${nodeId}" (${node.type}) has no param "${param}"`);
    node.params[param] = convert(raw, spec.kind, s);
  }
  return out;
}

function convert(raw: string, kind: string, s: string): string | number | boolean {
  switch (kind) {
    case 'int':
    case 'float':
    case 'seed': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) throw new UsageError(`--set ${s}: "${raw}" is not a number`);
      return v;
    }
    case 'boolean':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new UsageError(`--set ${s}: "${raw}" is not true/false`);
    default:
      return raw;
  }
}

/**
 * Folders the run may read because the user named them on the command line: a path given with --set to
 * a read-mode file param (a model folder, an input .npy) is the user's own choice, unlike a path stored
 * in a graph file, so its folder (or the folder itself) joins the read roots.
 */
export function readRootsFromSets(doc: GraphDocument, sets: string[], registry: NodeRegistry, cwd = process.cwd()): string[] {
  const roots: string[] = [];
  for (const s of sets) {
    const set = splitSet(s);
    if (!set) continue; // applySets reports it
    const { nodeId, param, raw } = set;
    const node = doc.nodes.find((n) => n.id === nodeId);
    const spec = node && registry.get(node.type)?.params[param];
    if (!spec || spec.kind !== 'file' || spec.mode !== 'read' || raw === '' || /^[a-z]+:(?![\\/])/i.test(raw)) continue;
    const full = path.resolve(cwd, raw);
    roots.push(isDirectory(full) ? full : path.dirname(full));
  }
  return roots;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** A size flag: bytes, or a number with a unit ("512MiB", "4 GiB", "1.5GB"; KB/MB/GB are decimal). */
export function parseByteSize(flag: string, raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = m ? SIZE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`${flag} expects a size such as 512MiB, 4GiB or a number of bytes, got "${raw}"`);
  return Math.floor(Number(m[1]) * unit);
}

/** A count flag: an integer of at least `min`. */
export function parseCount(flag: string, raw: string, min = 1): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n < min) throw new UsageError(`${flag} expects an integer of at least ${min}, got "${raw}"`);
  return n;
}
