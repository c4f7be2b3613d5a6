/** The files both sides of the ComfyUI parity check read: models, the init latent, each run case's graph. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeNpy } from '../../nodes/core/io/npy.ts';
import { randomNormal } from '../../nodes/core/random.ts';
import { sigmaSpace } from '../../nodes/sampling/model-time.ts';
import { caseModelFolder, COMFY_MODELS, latentShape, runGraph, type ComfyModel, type RunCase, type RunEntry } from './cases.ts';

export const INIT_FILE = 'inputs/init.npy';

/** Copies the analytic models into <dir>/models and writes the init latent (per batch size). */
export async function prepareComfyDir(dir: string, embeddedFolder: (name: ComfyModel) => Promise<string>): Promise<void> {
  for (const sub of ['models', 'configs', 'inputs', 'graphs', 'ours']) await fs.mkdir(path.join(dir, sub), { recursive: true });
  for (const name of COMFY_MODELS) await fs.cp(await embeddedFolder(name), path.join(dir, 'models', name), { recursive: true });
  const init = randomNormal([1, 3, 16, 16], 7);
  for (let i = 0; i < init.data.length; i++) init.data[i] = init.data[i] * 0.5 + 0.1;
  await fs.writeFile(path.join(dir, INIT_FILE), writeNpy(init));
}

/** Writes a run case's graph (and config folder); returns the graph file and check.py's manifest entry. */
export async function runEntry(dir: string, c: RunCase): Promise<{ graphFile: string; entry: RunEntry }> {
  if (c.denoise < 1 && c.batch !== 1) throw new Error(`comfyui parity case ${c.id}: img2img cases use the batch-1 init latent`);
  const folder = await caseModelFolder(dir, c);
  const init = c.denoise < 1 ? INIT_FILE : null;
  const graph = runGraph(c, folder, init && path.join('..', init));
  const graphFile = path.join(dir, 'graphs', `${c.id}.json`);
  await fs.writeFile(graphFile, JSON.stringify(graph, null, 2));
  const config = JSON.parse(await fs.readFile(path.join(folder, 'scheduler/scheduler_config.json'), 'utf8')) as Record<string, unknown>;
  const index = JSON.parse(await fs.readFile(path.join(folder, 'model_index.json'), 'utf8')) as Record<string, unknown>;
  const net = (await fs.stat(path.join(folder, 'unet')).then(() => true, () => false)) ? 'unet' : 'transformer';
  return {
    graphFile,
    entry: {
      id: c.id,
      model_file: path.relative(dir, path.join(folder, net, 'model.onnx')),
      config,
      space: sigmaSpace(index, config),
      time_units: (index.flowstudio as { timestep_units?: string } | undefined)?.timestep_units ?? 'scheduler',
      scheduler: c.scheduler,
      steps: c.steps,
      denoise: c.denoise,
      sampler: c.sampler,
      seed: c.seed,
      latent_shape: latentShape(c),
      init,
    },
  };
}
