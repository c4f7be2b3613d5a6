/** `--set nodeId.param=value` overrides, typed by the node's param declaration. */
import type { GraphDocument } from '../engine/graph/schema.ts';
import type { NodeRegistry } from '../engine/registry.ts';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Applies overrides to a copy of the graph; values are converted by the param's kind. */
export function applySets(doc: GraphDocument, sets: string[], registry: NodeRegistry): GraphDocument {
  const out: GraphDocument = { ...doc, nodes: doc.nodes.map((n) => ({ ...n, params: { ...n.params } })) };
  for (const s of sets) {
    const m = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(s);
    if (!m) throw new UsageError(`--set expects nodeId.param=value, got "${s}"`);
    const [, nodeId, param, raw] = m;
    const node = out.nodes.find((n) => n.id === nodeId);
    if (!node) throw new UsageError(`--set ${s}: no node "${nodeId}" in the graph (nodes: ${out.nodes.map((n) => n.id).join(', ')})`);
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
