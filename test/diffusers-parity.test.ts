/**
 * Our sampling loops against diffusers' own results. test/fixtures/diffusers-parity/refs.{json,bin} hold the
 * final latents that diffusers' schedulers (the commit named in refs.json, run by
 * scripts/diffusers-parity/check.py with torch and onnxruntime; a case's `made_with` names a later run's) produced from the same ONNX models, configs,
 * noise and conditioning; here each case's graph runs through the engine and its final latent must be within
 * a relative L2 distance of 2e-4 (diffusers' float32 tables against our float64 ones account for up to
 * ~1.3e-4; README in scripts/diffusers-parity; a case names any wider tolerance and why), after as many model calls as diffusers' loop made. The cases cover every solver with a diffusers class, on
 * SD 1.x-style, v/x0-prediction, zero-SNR, Karras/exponential/Lu grids, thresholding, img2img, stochastic
 * solvers fed diffusers' noise draws, Sana-style flow sigmas, and twins of SD 1.5, SD-Turbo, SDXL, SD3 and
 * FLUX with their real input names and pipeline time units.
 *
 * Where diffusers itself gives no result (it refuses the config, or returns NaN), the reference records
 * that, and ours must be finite (cases.ts says why for each).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../electron/engine/engine.ts';
import { readGraphFile } from '../electron/engine/graph/io.ts';
import { ensureEmbeddedModel } from '../electron/engine/models/embedded.ts';
import { parityCases } from '../scripts/diffusers-parity/cases.ts';
import { prepareCase, prepareModels, type PreparedModels } from '../scripts/diffusers-parity/setup.ts';
import { createTestEngine, tempDir, testCacheDir } from './helpers/engine.ts';
import { relL2 } from './sampling-fake-model.ts';

interface Ref {
  id: string;
  status: 'ok' | 'nonfinite' | 'refuses';
  shape?: number[];
  offset?: number;
  calls?: number;
  draws?: number;
  error?: string;
}

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/diffusers-parity');
const meta = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'refs.json'), 'utf8')) as { diffusers: string; diffusers_commit: string; cases: Ref[] };
const bytes = fs.readFileSync(path.join(FIXTURE, 'refs.bin'));
const refData = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
const refs = new Map(meta.cases.map((r) => [r.id, r]));
const TOL = 2e-4;

let dir: string;
let engine: Engine;
let models: PreparedModels;

beforeAll(async () => {
  dir = tempDir('fs-parity-');
  models = await prepareModels(dir, (name) => ensureEmbeddedModel(name, testCacheDir()));
  // As the CLI runs a graph file: relative paths resolve against the graph's folder.
  engine = createTestEngine({ readRoots: [path.join(dir, 'graphs'), dir] });
});

const cases = parityCases();

describe(`final latents match diffusers ${meta.diffusers} (${meta.diffusers_commit.slice(0, 7)}) run on the same inputs`, () => {
  it('every case has a diffusers reference (or is marked as awaiting one), and every reference a case', () => {
    const ids = new Set(cases.map((c) => c.id));
    expect(cases.filter((c) => !refs.has(c.id) && !c.awaitingReference).map((c) => c.id)).toEqual([]);
    expect(meta.cases.filter((r) => !ids.has(r.id)).map((r) => r.id)).toEqual([]);
  });

  /** Runs a case's graph as check.py's manifest describes it; returns our final latent and the model calls made. */
  async function runOurs(c: (typeof cases)[number]) {
    const { graphFile } = await prepareCase(dir, models, c);
    const before = await engine.pool.stats();
    const { summary, result } = await engine.execute({ graph: readGraphFile(graphFile) });
    const calls = (await engine.pool.stats()).runs - before.runs;
    expect(summary.error?.message).toBeUndefined();
    expect(summary.status).toBe('finished');
    const latent = result!.outputs.get('sampler')!.latent as { dims: readonly number[]; data: Float32Array };
    expect(latent.data.every(Number.isFinite)).toBe(true);
    return { latent, calls };
  }

  // Until check.py has run them, the graphs prepare.ts will hand it must at least run here.
  it.each(cases.filter((c) => c.awaitingReference && !refs.has(c.id)).map((c) => [c.id, c] as const))('%s runs (awaiting a diffusers reference)', async (_id, c) => {
    const { calls } = await runOurs(c);
    expect(calls).toBeGreaterThan(0);
  });

  it.each(cases.filter((c) => refs.has(c.id)).map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const ref = refs.get(c.id)!; // only cases with a reference are listed here (the first test checks the rest)
    const { latent, calls } = await runOurs(c);

    const expected = c.expect?.diffusers;
    if (expected === 'refuses') {
      expect(ref.status).toBe('refuses');
      return;
    }
    if (expected === 'nonfinite') {
      expect(ref.status).toBe('nonfinite');
      // Where diffusers' result is NaN, ours is a finite latent (the deviation the case documents).
      expect(latent.data.every(Number.isFinite)).toBe(true);
      return;
    }
    expect(ref.status).toBe('ok');
    // As many model calls as diffusers' loop made (one per timestep it walked).
    expect(calls).toBe(ref.calls);
    expect([...latent.dims]).toEqual(ref.shape);
    const n = latent.data.length;
    const want = refData.subarray(ref.offset!, ref.offset! + n);
    expect(relL2(latent.data, want)).toBeLessThan(c.tolerance?.relL2 ?? TOL);
  });
});
