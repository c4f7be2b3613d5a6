/**
 * A fixed-seed round of the graph fuzz (scripts/graph-fuzz): random well-formed graphs over the embedded
 * models and over the conditional twins, and structurally damaged copies of the shipped examples, run
 * through the engine. Most fail; none
 * may throw out of the engine, fail without naming its node, explain itself with a JavaScript internal or
 * finish with a non-finite tensor (check.ts). Larger rounds: `npx tsx scripts/graph-fuzz/run.ts <seed> <n>`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLES_DIR } from '../electron/engine/paths.ts';
import { judge } from '../scripts/graph-fuzz/check.ts';
import { configGraph, randomConfigCase, writeConfigCase } from '../scripts/graph-fuzz/configs.ts';
import { createRng, mutateGraph, randomGraph } from '../scripts/graph-fuzz/generate.ts';
import { randomSignatureCase, signatureGraph, writeSignatureCase } from '../scripts/graph-fuzz/signatures.ts';
import { prepareFuzzTwins, twinGraph } from '../scripts/graph-fuzz/twins.ts';
import type { RunSummary } from '../electron/engine/api.ts';
import { createTestEngine, testCacheDir } from './helpers/engine.ts';
import { tempDir } from './helpers/temp.ts';

const twinDir = tempDir('fs-graph-fuzz-twins-');
const configDir = tempDir('fs-graph-fuzz-configs-');
const engine = createTestEngine({ readRoots: [twinDir, configDir] });
afterAll(() => engine.dispose());

async function round(graphs: Iterable<unknown> | AsyncIterable<unknown>): Promise<{ outcomes: Record<string, number>; problems: string[] }> {
  const outcomes: Record<string, number> = {};
  const problems: string[] = [];
  let i = -1;
  for await (const graph of graphs) {
    i++;
    let summary: RunSummary;
    try {
      summary = (await engine.execute({ graph })).summary;
    } catch (e) {
      problems.push(`#${i}: the engine threw ${(e as Error).message}`);
      continue;
    }
    const verdict = judge(summary);
    outcomes[verdict.outcome] = (outcomes[verdict.outcome] ?? 0) + 1;
    if (verdict.problem) problems.push(`#${i}: ${verdict.problem}`);
  }
  return { outcomes, problems };
}

/** Graphs that each sample a model folder of their own (the model service caches a folder's config by its path). */
async function* folderGraphs(prefix: string, count: number, make: (folder: string) => Promise<unknown>): AsyncGenerator<unknown> {
  for (let i = 0; i < count; i++) yield await make(path.join(configDir, `${prefix}${i}`));
}

describe('graph fuzz (fixed seeds)', () => {
  it('random graphs on the embedded models: every failure names its node and its cause', async () => {
    const rng = createRng(20261129);
    const types = await engine.listNodeTypes();
    const { outcomes, problems } = await round(Array.from({ length: 150 }, () => randomGraph(rng, types)));
    expect(problems).toEqual([]);
    // The round exercises all three outcomes (the generator is not all refusals).
    expect(outcomes.finished).toBeGreaterThan(20);
    expect(outcomes.failed).toBeGreaterThan(20);
    expect(outcomes.invalid).toBeGreaterThan(0);
  });

  it('damaged copies of the examples are refused with readable errors, never a crash', async () => {
    const rng = createRng(7);
    const types = await engine.listNodeTypes();
    const examples = fs.readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, f), 'utf8')));
    const { outcomes, problems } = await round(Array.from({ length: 150 }, () => mutateGraph(rng, rng.pick(examples), types)));
    expect(problems).toEqual([]);
    expect(outcomes.invalid).toBeGreaterThan(100);
  });

  it('conditional twins with random CFG settings: every failure names its node and its cause', async () => {
    const rng = createRng(61);
    const types = await engine.listNodeTypes();
    const twins = await prepareFuzzTwins(twinDir);
    const { outcomes, problems } = await round(Array.from({ length: 80 }, () => twinGraph(rng, types, twins)));
    expect(problems).toEqual([]);
    expect(outcomes.finished).toBeGreaterThan(20);
    expect(outcomes.failed).toBeGreaterThan(10);
  });

  it('random scheduler configs (zero, negative, huge, wrong-kind and conflicting keys): every failure names its cause', async () => {
    const rng = createRng(1);
    const types = await engine.listNodeTypes();
    const { outcomes, problems } = await round(
      folderGraphs('m', 150, async (folder) => {
        await writeConfigCase(folder, randomConfigCase(rng), testCacheDir());
        return configGraph(rng, types, folder);
      }),
    );
    expect(problems).toEqual([]);
    expect(outcomes.finished).toBeGreaterThan(20);
    expect(outcomes.failed).toBeGreaterThan(50);
  });

  it('networks with random input and output signatures, with or without fitting conditioning: refused by the input at fault', async () => {
    const rng = createRng(2);
    const types = await engine.listNodeTypes();
    const { outcomes, problems } = await round(
      folderGraphs('sig', 150, async (folder) => {
        const c = randomSignatureCase(rng);
        await writeSignatureCase(folder, c, testCacheDir());
        return signatureGraph(rng, types, folder, c);
      }),
    );
    expect(problems).toEqual([]);
    expect(outcomes.finished).toBeGreaterThan(20);
    expect(outcomes.failed).toBeGreaterThan(50);
  });

  it('judges what it must: an unnamed failure, a leaked internal, a non-finite result', () => {
    const base = { runId: 'r', ms: 1, outDir: '/o', nodes: {}, outputs: {} };
    expect(judge({ ...base, status: 'failed', error: { message: 'x' } }).problem).toMatch(/names no node/);
    expect(judge({ ...base, status: 'failed', error: { nodeId: 'n', message: "Cannot read properties of undefined (reading 'dims')" } }).problem).toMatch(/JavaScript internal/);
    expect(judge({ ...base, status: 'failed', error: { nodeId: 'n', message: 'steps (20) cannot exceed 5' } }).problem).toBeUndefined();
    const nan = { kind: 'tensor' as const, dims: [1], min: Number.NaN, max: 1, mean: 0 };
    expect(judge({ ...base, status: 'finished', outputs: { s: { latent: nan } } }).problem).toMatch(/s\.latent finished with a non-finite value/);
    expect(judge({ ...base, status: 'invalid', errors: [] }).problem).toMatch(/no errors listed/);
  });
});
