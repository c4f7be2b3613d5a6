/**
 * `npm run parity:prepare [-- <dir> [<id regex>]]`: runs every parity case through the `flowstudio` CLI, as
 * the external acceptance suite does, and writes what check.py needs to run the same loops with diffusers'
 * own schedulers (README.md beside this file).
 *
 * Layout of <dir> (default out/diffusers-parity):
 *   manifest.json          one entry per case: model, full scheduler config, diffusers class + overrides, ...
 *   models/<name>/         the model folders both sides run (embedded analytic models, twins)
 *   configs/<hash>/        model folders with a changed scheduler_config.json (links to the network folder)
 *   inputs/                noise, init latents and conditioning (.npy)
 *   graphs/<id>.json       the graph each case ran
 *   ours/<id>.npy          our final latent
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ensureEmbeddedModel } from '../../electron/engine/models/embedded.ts';
import { ROOT, runGraphCli } from '../parity-cli.ts';
import { parityCases, type ParityCase } from './cases.ts';
import { prepareCase, prepareModels } from './setup.ts';


/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
async function inPool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2] ?? path.join(ROOT, 'out/diffusers-parity'));
  const only = process.argv[3] ? new RegExp(process.argv[3]) : undefined;
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(path.join(dir, 'ours'), { recursive: true });
  const models = await prepareModels(dir, (name) => ensureEmbeddedModel(name));
  // PARITY_CASES_JSON: a JSON array of ParityCase (a fuzz run's generated cases) in place of cases.ts's.
  const source = process.env.PARITY_CASES_JSON ? (JSON.parse(await fs.readFile(process.env.PARITY_CASES_JSON, 'utf8')) as ParityCase[]) : parityCases();
  const cases = source.filter((c) => !only || only.test(c.id));
  const manifest = await inPool(cases, 2, async (c) => {
    const { graphFile, entry } = await prepareCase(dir, models, c);
    const error = await runGraphCli(graphFile, path.join(dir, 'ours'), dir);
    process.stderr.write(`${error ? 'FAIL' : 'ok  '} ${c.id}${error ? `: ${error}` : ''}\n`);
    return { ...entry, ours: error ? null : `ours/${c.id}.npy`, ours_error: error };
  });
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ cases: manifest }, null, 2));
  const failed = manifest.filter((c) => c.ours_error).length;
  process.stderr.write(`${manifest.length} cases written to ${dir}${failed ? `; ${failed} failed on our side` : ''}\n`);
}

await main();
