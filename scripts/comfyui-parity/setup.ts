/** The files both sides of the ComfyUI parity check read: models, the init latent, each run case's graph. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeNpy } from '../../nodes/core/io/npy.ts';
import { randomNormal } from '../../nodes/core/random.ts';
import { sigmaSpace } from '../../nodes/sampling/model-time.ts';
import { prepareTwin } from '../diffusers-parity/setup.ts';
import { caseModelFolder, COMFY_MODELS, COMFY_TWINS, latentShape, runGraph, type AnalyticComfyModel, type RunCase, type RunEntry } from './cases.ts';

export const INIT_FILE = 'inputs/init.npy';

/** The twins' conditioning files (name -> .npy relative to the parity folder), positive and negative. */
export type TwinConditioning = Map<string, { conditioning: Record<string, string>; negative: Record<string, string> }>;

/**
 * Copies the analytic models into <dir>/models, writes the twins with their conditioning files (as the
 * diffusers parity check writes them) and the init latent.
 */
export async function prepareComfyDir(dir: string, embeddedFolder: (name: AnalyticComfyModel) => Promise<string>): Promise<TwinConditioning> {
  for (const sub of ['models', 'configs', 'inputs', 'graphs', 'ours']) await fs.mkdir(path.join(dir, sub), { recursive: true });
  for (const name of COMFY_MODELS) await fs.cp(await embeddedFolder(name), path.join(dir, 'models', name), { recursive: true });
  const twins: TwinConditioning = new Map();
  for (const name of COMFY_TWINS) {
    const m = await prepareTwin(dir, name);
    twins.set(name, { conditioning: m.conditioning, negative: m.negative });
  }
  const init = randomNormal([1, 3, 16, 16], 7);
  for (let i = 0; i < init.data.length; i++) init.data[i] = init.data[i] * 0.5 + 0.1;
  await fs.writeFile(path.join(dir, INIT_FILE), writeNpy(init));
  return twins;
}

/** Writes a run case's graph (and config folder); returns the graph file and check.py's manifest entry. */
export async function runEntry(dir: string, c: RunCase, twins: TwinConditioning): Promise<{ graphFile: string; entry: RunEntry }> {
  if ((c.denoise < 1 || (c.sigmaOps && !c.emptyLatent)) && c.batch !== 1) throw new Error(`comfyui parity case ${c.id}: img2img and sigma-edit cases use the batch-1 init latent`);
  const twin = twins.get(c.model);
  if (twin && (c.denoise < 1 || c.batch !== 1 || c.sigmaOps)) throw new Error(`comfyui parity case ${c.id}: twin runs are text-to-image at batch 1`);
  const folder = await caseModelFolder(dir, c);
  // SamplerCustom runs on edited sigmas start from the init latent (noised at their first level, or as it is).
  const init = c.denoise < 1 || (c.sigmaOps && !c.emptyLatent) ? INIT_FILE : null;
  // Graph paths resolve against the graph's folder (graphs/).
  const up = (files: Record<string, string>) => Object.fromEntries(Object.entries(files).map(([k, v]) => [k, path.join('..', v)]));
  const conditioning = twin?.conditioning ?? {};
  const negative = twin?.negative ?? {};
  const graph = runGraph(c, folder, init && path.join('..', init), up(conditioning), up(negative));
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
      conditioning,
      negative: c.cfg !== undefined ? negative : {},
      cfg: c.cfg ?? null,
      apg: c.apg ?? null,
      sampler_node: c.samplerNode ?? null,
      sigma_ops: c.sigmaOps ?? null,
      add_noise: c.addNoise !== false,
      then: c.then ?? null,
      curve: c.curve ?? null,
      ksampler_grid: c.kSamplerGrid === true,
    },
  };
}
