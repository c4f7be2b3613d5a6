/**
 * Which debug views the output panel offers for a run's outputs, decided by each output's port type (from
 * the node type descriptions) and, for tensors, its shape: TRAJECTORY -> scrubber, LATENT/IMAGE -> latent
 * view, two LATENT/IMAGE outputs of one shape -> A/B compare, METRICS -> error chart. Pure, for tests.
 */
import type { ValueSummary } from '../../../../electron/engine/summary.ts';
import { outputOf, type NodeTypeIndex } from '../../graph/node-types.ts';

export interface OutputRef {
  nodeId: string;
  port: string;
}

export interface TensorRef extends OutputRef {
  dims: number[];
}

export interface DebugTargets {
  trajectories: OutputRef[];
  tensors: TensorRef[];
  /** Same-shape pairs of tensors, pairs within one node first, else in output order (at most `maxPairs`). */
  pairs: [TensorRef, TensorRef][];
  metrics: OutputRef[];
}

const VIEWABLE_TENSOR_TYPES = new Set(['LATENT', 'IMAGE']);

export function debugTargets(
  outputs: Readonly<Record<string, Record<string, ValueSummary>>>,
  nodeTypeOf: (nodeId: string) => string | undefined,
  nodeTypes: NodeTypeIndex,
  maxPairs = 6,
): DebugTargets {
  const targets: DebugTargets = { trajectories: [], tensors: [], pairs: [], metrics: [] };
  for (const [nodeId, ports] of Object.entries(outputs)) {
    const type = nodeTypeOf(nodeId);
    const desc = type === undefined ? undefined : nodeTypes[type];
    for (const [port, summary] of Object.entries(ports)) {
      const portType = outputOf(desc, port)?.type;
      if (portType === 'TRAJECTORY') targets.trajectories.push({ nodeId, port });
      else if (portType === 'METRICS') targets.metrics.push({ nodeId, port });
      else if (portType && VIEWABLE_TENSOR_TYPES.has(portType) && summary.kind === 'tensor') targets.tensors.push({ nodeId, port, dims: summary.dims });
    }
  }
  const sameShape = (a: TensorRef, b: TensorRef) => a.dims.length === b.dims.length && a.dims.every((d, i) => d === b.dims[i]);
  const pairs: [TensorRef, TensorRef][] = [];
  for (let i = 0; i < targets.tensors.length; i++) {
    for (let j = i + 1; j < targets.tensors.length; j++) {
      if (sameShape(targets.tensors[i], targets.tensors[j])) pairs.push([targets.tensors[i], targets.tensors[j]]);
    }
  }
  // Two outputs of one node first (a sampler's final sample vs its last x0 prediction): the likeliest question.
  const sameNode = (p: [TensorRef, TensorRef]) => (p[0].nodeId === p[1].nodeId ? 0 : 1);
  targets.pairs = pairs.sort((p, q) => sameNode(p) - sameNode(q)).slice(0, maxPairs);
  return targets;
}

export const refLabel = (r: OutputRef) => `${r.nodeId}.${r.port}`;
