/**
 * `npm run parity:comfyui:prepare [-- <dir> [<id regex>]]`: writes what check.py needs to run the same
 * KSampler settings with ComfyUI's own code, and runs each run case through the `flowstudio` CLI.
 *
 * Layout of <dir> (default out/comfyui-parity):
 *   manifest.json     { grids: [...], runs: [...] } (cases.ts)
 *   models/<name>/    the embedded analytic models; configs/<hash>/ copies with a changed scheduler config
 *   inputs/init.npy   the img2img start latent
 *   graphs/<id>.json  the graph each run case ran;  ours/<id>.npy  its final latent
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ensureEmbeddedModel } from '../../electron/engine/models/embedded.ts';
import { ROOT, runGraphCli } from '../parity-cli.ts';
import { prepareComfyDir, runEntry } from './setup.ts';
import { curveCases, gridCases, runCases } from './cases.ts';


async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2] ?? path.join(ROOT, 'out/comfyui-parity'));
  const only = process.argv[3] ? new RegExp(process.argv[3]) : undefined;
  await fs.rm(dir, { recursive: true, force: true });
  const twins = await prepareComfyDir(dir, (name) => ensureEmbeddedModel(name));
  const runs = [];
  for (const c of runCases().filter((c) => !only || only.test(c.id))) {
    const { graphFile, entry } = await runEntry(dir, c, twins);
    const error = await runGraphCli(graphFile, path.join(dir, 'ours'), dir);
    process.stderr.write(`${error ? 'FAIL' : 'ok  '} ${c.id}${error ? `: ${error}` : ''}\n`);
    runs.push({ ...entry, ours: error ? null : `ours/${c.id}.npy`, ours_error: error });
  }
  const grids = gridCases().filter((c) => !only || only.test(c.id));
  const curves = curveCases().filter((c) => !only || only.test(c.id));
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ grids, curves, runs }, null, 1));
  process.stderr.write(`${grids.length} grid, ${curves.length} curve and ${runs.length} run cases written to ${dir}\n`);
}

await main();
