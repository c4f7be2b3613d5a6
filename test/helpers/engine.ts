/** Shared setup for tests that run the real engine (real ONNX sessions on the embedded models). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tempDir } from './temp.ts';
import { Engine, type EngineOptions } from '../../electron/engine/engine.ts';
import type { GraphDocument } from '../../electron/engine/graph/schema.ts';

/** One generated-model cache for the whole suite (generation is process-safe). */
export function testCacheDir(): string {
  return process.env.FLOWSTUDIO_CACHE_DIR ?? path.join(os.tmpdir(), 'flowstudio-test-cache');
}

export { tempDir } from './temp.ts';

export function createTestEngine(opts: EngineOptions = {}): Engine {
  return new Engine({ cacheDir: testCacheDir(), outDir: tempDir('fs-out-'), providers: ['cpu'], ...opts });
}

type NodeSpec = { id: string; type: string; params?: Record<string, string | number | boolean> };

/** A v1 graph from nodes and "src.port->dst.port" edges. */
export function graph(nodes: NodeSpec[], edges: string[]): GraphDocument {
  return {
    format: 'flowstudio-graph',
    schemaVersion: 1,
    metadata: { name: 'test', description: '', author: '', tags: [] },
    nodes: nodes.map((n, i) => ({ id: n.id, type: n.type, params: n.params ?? {}, position: { x: i * 200, y: 0 } })),
    edges: edges.map((e, i) => {
      const m = /^(\w+)\.(\w+)->(\w+)\.(\w+)$/.exec(e);
      if (!m) throw new Error(`bad edge spec ${e}`);
      return { id: `e${i}`, source: m[1], sourcePort: m[2], target: m[3], targetPort: m[4] };
    }),
    groups: [],
    viewport: { x: 0, y: 0, zoom: 1 },
    subgraphs: {},
  };
}

export function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/**
 * A copy of a model's folder with its scheduler_config.json replaced by `edit(config)`, under the model cache
 * (graphs may read models from there). Returns the folder, for a LoadModel `model` param.
 */
export async function modelWithConfig(engine: Engine, ref: string, edit: (config: Record<string, unknown>) => Record<string, unknown>): Promise<string> {
  const source = (await engine.models.load(ref)).folder;
  const folder = tempDir('edited-model-', testCacheDir());
  fs.cpSync(source, folder, { recursive: true });
  const file = path.join(folder, 'scheduler', 'scheduler_config.json');
  fs.writeFileSync(file, JSON.stringify(edit(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>)));
  return folder;
}
