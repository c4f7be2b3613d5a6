/**
 * Light checks on what a node's execute() returned, so a broken node fails at its own door with a clear
 * message instead of as a NaN image three nodes later.
 */
import { isTensor } from '../../../nodes/core/tensor.ts';
import type { AnyNodeDefinition, OutputSpec } from '../../../nodes/core/types.ts';
import type { PortType, Sigmas } from '../../../nodes/core/values.ts';
import { checkSigmas } from '../../../nodes/sampling/solver.ts';

/** Port types whose values are plain Tensors of real numbers. */
const TENSOR_PORTS: ReadonlySet<PortType> = new Set<PortType>(['LATENT', 'IMAGE', 'NOISE', 'MASK']);

/**
 * Returns the declared outputs (undeclared keys are left out: nothing could read them).
 * @throws Error naming the port when one is missing, is not a Tensor where one is due, or holds NaN/Inf.
 */
export function checkOutputs(def: AnyNodeDefinition, returned: unknown): Record<string, unknown> {
  const specs = def.outputs as Record<string, OutputSpec>;
  const names = Object.keys(specs);
  if (typeof returned !== 'object' || returned === null || Array.isArray(returned)) {
    throw new Error(`execute() returned ${describe(returned)}, expected an object with outputs ${list(names)}`);
  }
  const values = returned as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const value = values[name];
    const type = specs[name].type;
    if (value === undefined) throw new Error(`output "${name}" (${type}) is missing from what execute() returned`);
    if (type === 'SIGMAS') {
      // Every consumer validates its inputs against the user's mistakes; a malformed schedule is the producer's bug.
      try {
        checkSigmas(value as Sigmas);
      } catch (e) {
        throw new Error(`internal: output "${name}" is not a well-formed schedule: ${(e as Error).message}`);
      }
    }
    if (TENSOR_PORTS.has(type)) {
      if (!isTensor(value)) throw new Error(`output "${name}" (${type}) is ${describe(value)}, expected a Tensor`);
      const bad = value.firstNonFinite();
      if (bad >= 0) throw new Error(`output "${name}" contains ${Number.isNaN(value.data[bad]) ? 'NaN' : value.data[bad]} at element ${bad}`);
    }
    out[name] = value;
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `a ${(Object.getPrototypeOf(v)?.constructor?.name as string | undefined) ?? 'object'}`;
  return typeof v === 'undefined' ? 'undefined' : `a ${typeof v}`;
}

function list(names: string[]): string {
  return names.length ? names.map((n) => `"${n}"`).join(', ') : '(none declared)';
}
