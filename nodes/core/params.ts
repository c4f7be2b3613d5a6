/**
 * Param resolution: turns the raw scalars stored in a graph file into the values a node runs with,
 * checked against the node's declaration. Errors carry no nodeId: the caller adds nodeId/nodeType.
 */
import type { GraphError } from '../../electron/engine/graph/errors.ts';
import type { AnyNodeDefinition, Condition, ParamSpec } from './types.ts';
import { quoted } from './quote.ts';

export type RawParamValue = string | number | boolean;

export interface ResolvedParams {
  /** Every declared param: the checked value, or its default when absent, invalid or switched off by `when`. */
  values: Record<string, unknown>;
  errors: GraphError[];
}

/** Seeds are unsigned 32-bit integers so every RNG implementation can take them unchanged. */
export const SEED_LIMIT = 2 ** 32;

/** Prefix of model refs that name a model shipped inside the app rather than a file on disk. */
const EMBEDDED_PREFIX = 'embedded:';

/** True when there is no condition, or the referenced param's value is one of the allowed values. */
export function isConditionMet(cond: Condition | undefined, values: Record<string, unknown>): boolean {
  if (!cond) return true;
  const value = values[cond.param];
  return cond.in.some((allowed) => allowed === value);
}

export function paramDefaults(def: AnyNodeDefinition): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(def.params as Record<string, ParamSpec>)) out[name] = spec.default;
  return out;
}

export function resolveParams(def: AnyNodeDefinition, raw: Record<string, RawParamValue>): ResolvedParams {
  const specs = def.params as Record<string, ParamSpec>;
  const errors: GraphError[] = [];

  for (const name of Object.keys(raw)) {
    if (!Object.hasOwn(specs, name) && !Object.hasOwn(def.retiredParams ?? {}, name)) {
      const known = Object.keys(specs);
      errors.push({
        code: 'unknown_param',
        param: name,
        message: `unknown param "${name}" (${known.length ? `known params: ${known.join(', ')}` : 'this node has no params'})`,
      });
    }
  }

  // Conditions may refer to params that have conditions themselves, so values are resolved on demand
  // (memoised); a param whose own condition is met by a chain leading back to itself is treated as off.
  const values: Record<string, unknown> = {};
  const state = new Map<string, 'resolving' | 'done'>();
  const resolve = (name: string): unknown => {
    const spec = specs[name];
    if (!spec) return undefined;
    if (state.get(name) === 'done') return values[name];
    if (state.get(name) === 'resolving') return spec.default;
    state.set(name, 'resolving');
    let value: unknown = spec.default;
    const active = !spec.when || isConditionMet(spec.when, { [spec.when.param]: resolve(spec.when.param) });
    if (active) {
      // An absent value gets the default, which is checked too: a required file's default '' means "not chosen yet".
      const problem = checkParamValue(name, spec, Object.hasOwn(raw, name) ? raw[name] : spec.default);
      if (problem) errors.push(problem);
      else if (Object.hasOwn(raw, name)) value = raw[name];
    }
    values[name] = value;
    state.set(name, 'done');
    return value;
  };
  for (const name of Object.keys(specs)) resolve(name);

  return { values, errors };
}

/** Checks one active param value against its spec; returns the error, or undefined when it is valid. */
export function checkParamValue(name: string, spec: ParamSpec, value: RawParamValue): GraphError | undefined {
  const shown = show(value);
  const wrongKind = (expected: string): GraphError => ({
    code: 'param_wrong_kind',
    param: name,
    message: `param "${name}" = ${shown} is not ${expected} (got ${describeKind(value)})`,
  });

  switch (spec.kind) {
    case 'int':
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return wrongKind(spec.kind === 'int' ? 'an integer' : 'a finite number');
      if (spec.kind === 'int' && !Number.isInteger(value)) return wrongKind('an integer');
      return checkRange(name, value, spec.min, spec.max);
    }
    case 'seed': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return wrongKind('an integer seed');
      return checkRange(name, value, 0, SEED_LIMIT - 1);
    }
    case 'boolean':
      return typeof value === 'boolean' ? undefined : wrongKind('a boolean');
    case 'string':
      return typeof value === 'string' ? undefined : wrongKind('a string');
    case 'enum': {
      if (typeof value !== 'string') return wrongKind(`one of ${spec.options.map(show).join(', ')}`);
      if (spec.options.includes(value)) return undefined;
      return {
        code: 'param_not_in_options',
        param: name,
        message: `param "${name}" = ${shown} is not one of ${spec.options.map(show).join(', ')}`,
      };
    }
    case 'file': {
      if (typeof value !== 'string') return wrongKind('a file path');
      if (value === '') {
        // An empty path means "not chosen yet": fine only where the node has its own default.
        return spec.optional ? undefined : { code: 'param_wrong_kind', param: name, message: `param "${name}" is empty: a file path is required` };
      }
      if (value.startsWith(EMBEDDED_PREFIX) || !spec.extensions || spec.extensions.length === 0) return undefined;
      const lower = value.toLowerCase();
      if (spec.extensions.some((ext) => lower.endsWith(ext.toLowerCase()))) return undefined;
      return {
        code: 'param_not_in_options',
        param: name,
        message: `param "${name}" = ${shown} does not have an allowed extension (${spec.extensions.join(', ')})`,
      };
    }
  }
}

function checkRange(name: string, value: number, min: number | undefined, max: number | undefined): GraphError | undefined {
  if (min !== undefined && value < min) {
    return { code: 'param_out_of_range', param: name, message: `param "${name}" = ${value} is below its minimum ${min}` };
  }
  if (max !== undefined && value > max) {
    return { code: 'param_out_of_range', param: name, message: `param "${name}" = ${value} is above its maximum ${max}` };
  }
  return undefined;
}

/** A param value for a message: a long string by its start (a graph may hold megabytes in one). */
function show(value: unknown): string {
  return typeof value === 'string' ? quoted(value) : String(value);
}

function describeKind(value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'a non-finite number';
    return Number.isInteger(value) ? 'an integer' : 'a fractional number';
  }
  return `a ${typeof value}`;
}
