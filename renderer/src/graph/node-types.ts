/** Lookups over node type descriptions (what `EngineAPI.listNodeTypes()` returns). */
import type { NodeTypeDescription, ParamDescription, PortDescription } from '../../../electron/engine/graph/describe.ts';
import type { GraphParamValue } from '../../../electron/engine/graph/schema.ts';

/** Node type descriptions keyed by type name. */
export type NodeTypeIndex = Readonly<Record<string, NodeTypeDescription>>;

export function indexNodeTypes(types: readonly NodeTypeDescription[]): NodeTypeIndex {
  return Object.fromEntries(types.map((t) => [t.type, t]));
}

export function inputOf(desc: NodeTypeDescription | undefined, name: string): PortDescription | undefined {
  return desc?.inputs.find((p) => p.name === name);
}

export function outputOf(desc: NodeTypeDescription | undefined, name: string): PortDescription | undefined {
  return desc?.outputs.find((p) => p.name === name);
}

export function paramOf(desc: NodeTypeDescription | undefined, name: string): ParamDescription | undefined {
  return desc?.params.find((p) => p.name === name);
}

/** Every declared param at its default. */
export function defaultParams(desc: NodeTypeDescription): Record<string, GraphParamValue> {
  return Object.fromEntries(desc.params.map((p) => [p.name, p.default]));
}

/** Why `value` cannot be stored in this param, or undefined when its JSON type fits the param kind. */
export function paramValueProblem(param: ParamDescription, value: GraphParamValue): string | undefined {
  switch (param.kind) {
    case 'int':
    case 'seed':
      return typeof value === 'number' && Number.isInteger(value) ? undefined : `expects an integer, got ${JSON.stringify(value)}`;
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `expects a number, got ${JSON.stringify(value)}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `expects true or false, got ${JSON.stringify(value)}`;
    case 'enum':
      if (typeof value !== 'string') return `expects one of ${param.options?.join(', ')}, got ${JSON.stringify(value)}`;
      return param.options && !param.options.includes(value) ? `expects one of ${param.options.join(', ')}, got "${value}"` : undefined;
    case 'string':
    case 'file':
      return typeof value === 'string' ? undefined : `expects text, got ${JSON.stringify(value)}`;
  }
}

/** `Sampler "sampler_1"` style label used in every message. */
export function nodeLabel(node: { id: string; type: string; title?: string }): string {
  return `${node.title || node.type} "${node.id}"`;
}
