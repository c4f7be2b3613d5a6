/** Which debug views the output panel offers, from port types and tensor shapes (renderer/src/ui/run/debug-targets.ts). */
import { describe, expect, it } from 'vitest';
import { describeRegistry } from '../electron/engine/graph/describe.ts';
import type { ValueSummary } from '../electron/engine/summary.ts';
import { createDefaultRegistry } from '../nodes/index.ts';
import { indexNodeTypes } from '../renderer/src/graph/node-types.ts';
import { debugTargets } from '../renderer/src/ui/run/debug-targets.ts';

const NODE_TYPES = indexNodeTypes(describeRegistry(createDefaultRegistry()));
const t = (dims: number[]): ValueSummary => ({ kind: 'tensor', dims, min: 0, max: 1, mean: 0.5 });
const types: Record<string, string> = { latent: 'EmptyLatent', sampler: 'Sampler', to_image: 'LatentToImage', cmp: 'SolverCompare' };

describe('debugTargets', () => {
  it('offers the scrubber for TRAJECTORY, views for LATENT/IMAGE tensors, charts for METRICS', () => {
    const outputs = {
      latent: { latent: t([1, 4, 8, 8]) },
      sampler: { latent: t([1, 4, 8, 8]), denoised: t([1, 4, 8, 8]), trajectory: { kind: 'object', description: 'sigmas, states, denoised' } as ValueSummary },
      to_image: { image: t([1, 3, 64, 64]) },
      cmp: { metrics: { kind: 'metrics', values: { a: 1 } } as ValueSummary },
      unknown: { latent: t([1, 4, 8, 8]) },
    };
    const d = debugTargets(outputs, (id) => types[id], NODE_TYPES);
    expect(d.trajectories).toEqual([{ nodeId: 'sampler', port: 'trajectory' }]);
    expect(d.tensors.map((r) => `${r.nodeId}.${r.port}`)).toEqual(['latent.latent', 'sampler.latent', 'sampler.denoised', 'to_image.image']);
    expect(d.metrics).toEqual([{ nodeId: 'cmp', port: 'metrics' }]);
    // Same shape only (the image differs), pairs within one node first.
    expect(d.pairs.map(([a, b]) => `${a.nodeId}.${a.port}|${b.nodeId}.${b.port}`)).toEqual([
      'sampler.latent|sampler.denoised',
      'latent.latent|sampler.latent',
      'latent.latent|sampler.denoised',
    ]);
    expect(debugTargets(outputs, (id) => types[id], NODE_TYPES, 1).pairs).toHaveLength(1);
  });
});
