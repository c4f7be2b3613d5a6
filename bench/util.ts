import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GraphDocument } from '../electron/engine/graph/schema.ts';

/** One row of `npm run bench`'s table. */
export interface BenchRow {
  name: string;
  value: string;
  target: string;
  note: string;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function tempDir(prefix = 'flowstudio-bench-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** LoadModel -> Sampler <- EmptyLatent: a sampling run on `model` with `latent` params (size, batch) as given. */
export function samplerGraph(model: string, solver: string, steps: number, batch = 1, latent: Record<string, number> = {}): GraphDocument {
  return {
    format: 'flowstudio-graph',
    schemaVersion: 1,
    metadata: { name: 'bench', description: '', author: '', tags: [] },
    nodes: [
      { id: 'model', type: 'LoadModel', params: { model }, position: { x: 0, y: 0 } },
      { id: 'latent', type: 'EmptyLatent', params: { batch, ...latent }, position: { x: 0, y: 100 } },
      { id: 'sampler', type: 'Sampler', params: { solver, steps, seed: 1 }, position: { x: 200, y: 0 } },
    ],
    edges: [
      { id: 'e0', source: 'model', sourcePort: 'model', target: 'sampler', targetPort: 'model' },
      { id: 'e1', source: 'latent', sourcePort: 'latent', target: 'sampler', targetPort: 'latent' },
    ],
    groups: [],
    viewport: { x: 0, y: 0, zoom: 1 },
    subgraphs: {},
  };
}
