/** checkFiles: the files a graph reads that are not here, found before a run (what the editor shows on open). */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGraphFile } from '../electron/engine/graph/io.ts';
import { EXAMPLES_DIR } from '../electron/engine/paths.ts';
import { createTestEngine, graph, tempDir } from './helpers/engine.ts';

const models = tempDir('fs-check-models-');
const engine = createTestEngine({ readRoots: [models] });
afterAll(() => engine.dispose());

describe('checkFiles', () => {
  it('finds nothing to report in the shipped examples', async () => {
    for (const file of fs.readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json'))) {
      expect(await engine.checkFiles(readGraphFile(path.join(EXAMPLES_DIR, file))), file).toEqual([]);
    }
  });

  it("reports each file a shared graph reads that is not here, per node and param, with the run's own words", async () => {
    // A model folder without its scheduler config, inside a folder runs may read.
    fs.mkdirSync(path.join(models, 'half-copied'), { recursive: true });
    fs.writeFileSync(path.join(models, 'half-copied', 'model_index.json'), '{}');
    const doc = graph(
      [
        { id: 'model', type: 'LoadModel', params: { model: 'sd-turbo' } },
        { id: 'broken', type: 'LoadModel', params: { model: 'half-copied' } },
        { id: 'photo', type: 'LoadImage', params: { path: 'photo.png' } },
        { id: 'secret', type: 'LoadLatent', params: { path: '/etc/hostname' } },
        { id: 'fine', type: 'LoadModel', params: { model: 'embedded:gaussian-rf' } },
        { id: 'unset', type: 'LoadImage', params: { path: '' } },
        { id: 'save', type: 'SaveImage', params: { filename: 'nowhere/x.png' } },
      ],
      [],
    );
    const missing = await engine.checkFiles(doc);
    expect(missing.map((m) => [m.nodeId, m.nodeType, m.param, m.value, m.fileKind])).toEqual([
      ['model', 'LoadModel', 'model', 'sd-turbo', 'model'],
      ['broken', 'LoadModel', 'model', 'half-copied', 'model'],
      ['photo', 'LoadImage', 'path', 'photo.png', 'image'],
      ['secret', 'LoadLatent', 'path', '/etc/hostname', 'latent'],
    ]);
    const byNode = Object.fromEntries(missing.map((m) => [m.nodeId, m.message]));
    expect(byNode.model).toMatch(/^cannot open model "sd-turbo": expected a diffusers-ONNX folder with model_index\.json/);
    expect(byNode.broken).toMatch(/is missing scheduler\/scheduler_config\.json$/);
    expect(byNode.photo).toMatch(/^File not found: "photo\.png" \(looked in /);
    expect(byNode.secret).toMatch(/outside the folders files may be read from/);
    // The same words a run stops with at that node.
    const run = await engine.run({ graph: graph([{ id: 'photo', type: 'LoadImage', params: { path: 'photo.png' } }], []) });
    expect(run.error).toMatchObject({ nodeId: 'photo', message: byNode.photo });
  });

  it('leaves unknown node types to validation, and refuses what is not a graph', async () => {
    expect(await engine.checkFiles(graph([{ id: 'x', type: 'NoSuchNode', params: { path: 'gone.png' } }], []))).toEqual([]);
    await expect(engine.checkFiles({ nodes: 'no' })).rejects.toMatchObject({ name: 'GraphValidationError' });
  });

  it('sees a file once it is put where runs read from', async () => {
    const doc = graph([{ id: 'photo', type: 'LoadImage', params: { path: 'late.png' } }], []);
    expect(await engine.checkFiles(doc)).toHaveLength(1);
    fs.writeFileSync(path.join(models, 'late.png'), 'any bytes: checkFiles looks for the file, the run reads it');
    expect(await engine.checkFiles(doc)).toEqual([]);
  });
});
