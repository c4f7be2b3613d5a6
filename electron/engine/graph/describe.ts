/**
 * JSON-friendly descriptions of node types, for `flowstudio nodes --json` and the UI inspector.
 * Plain data only (no functions, no undefined fields); order is the declaration order of ports and
 * params, and the registry's order (category, then type) for node types.
 */
import type { AnyNodeDefinition, Condition, InputSpec, OutputSpec, ParamKind, ParamSpec } from '../../../nodes/core/types.ts';
import { SEED_LIMIT } from '../../../nodes/core/params.ts';
import type { PortType } from '../../../nodes/core/values.ts';
import type { NodeRegistry } from '../registry.ts';

export interface ConditionDescription {
  param: string;
  in: (string | number | boolean)[];
}

export interface PortDescription {
  name: string;
  type: PortType;
  label?: string;
  help?: string;
  /** Inputs only: may stay unconnected. */
  optional?: boolean;
  /** Inputs only: required/shown only when this holds. */
  when?: ConditionDescription;
}

export interface ParamDescription {
  name: string;
  kind: ParamKind;
  default: string | number | boolean;
  label?: string;
  help?: string;
  when?: ConditionDescription;
  min?: number;
  max?: number;
  step?: number;
  /** enum */
  options?: string[];
  /** string */
  multiline?: boolean;
  /** file */
  fileKind?: 'model' | 'image' | 'latent' | 'any';
  mode?: 'read' | 'write';
  extensions?: string[];
  optional?: boolean;
}

export interface NodeTypeDescription {
  type: string;
  version: number;
  title: string;
  category: string;
  description: string;
  kind: 'pure' | 'side-effect';
  inputs: PortDescription[];
  outputs: PortDescription[];
  params: ParamDescription[];
}

export function describeNodeType(def: AnyNodeDefinition): NodeTypeDescription {
  return {
    type: def.type,
    version: def.version,
    title: def.title,
    category: def.category,
    description: def.description,
    kind: def.kind ?? 'pure',
    inputs: Object.entries(def.inputs as Record<string, InputSpec>).map(([name, spec]) =>
      compact({ name, type: spec.type, label: spec.label, help: spec.help, optional: spec.optional ?? false, when: condition(spec.when) }),
    ),
    outputs: Object.entries(def.outputs as Record<string, OutputSpec>).map(([name, spec]) =>
      compact({ name, type: spec.type, label: spec.label, help: spec.help }),
    ),
    params: Object.entries(def.params as Record<string, ParamSpec>).map(([name, spec]) => describeParam(name, spec)),
  };
}

/** Every registered node type, in the registry's order (category, then type). */
export function describeRegistry(registry: NodeRegistry): NodeTypeDescription[] {
  return registry.list().map(describeNodeType);
}

function describeParam(name: string, spec: ParamSpec): ParamDescription {
  const base = { name, kind: spec.kind, default: spec.default, label: spec.label, help: spec.help, when: condition(spec.when) };
  switch (spec.kind) {
    case 'int':
    case 'float':
      return compact({ ...base, min: spec.min, max: spec.max, step: spec.step });
    case 'enum':
      return compact({ ...base, options: [...spec.options] });
    case 'string':
      return compact({ ...base, multiline: spec.multiline });
    case 'file':
      return compact({
        ...base,
        fileKind: spec.fileKind,
        mode: spec.mode,
        extensions: spec.extensions ? [...spec.extensions] : undefined,
        optional: spec.optional ?? false,
      });
    case 'seed':
      // The range every seed is checked against.
      return compact({ ...base, min: 0, max: SEED_LIMIT - 1, step: 1 });
    case 'boolean':
      return compact(base);
  }
}

function condition(cond: Condition | undefined): ConditionDescription | undefined {
  return cond ? { param: cond.param, in: [...cond.in] } : undefined;
}

/** Drops undefined fields so descriptions compare and serialize cleanly. */
function compact<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
