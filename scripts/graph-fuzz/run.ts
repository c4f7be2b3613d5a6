/**
 * A graph fuzz round (README.md here):
 *   npx tsx scripts/graph-fuzz/run.ts <seed> <count> [--mutate | --twins | --configs | --signatures] [--out DIR]
 * runs <count> graphs through an in-process engine (on the embedded models, the conditional twins with
 * --twins, copies of the embedded models with random scheduler configs with --configs, or tiny networks
 * with random input and output signatures with --signatures), prints the outcomes and the
 * failure causes by count, and writes each graph that breaks a rule (check.ts), or runs past 30 s, to DIR
 * (default: a temp folder) for replay with `flowstudio run`. Exit code 1 when any graph broke a rule.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../electron/engine/engine.ts';
import { EXAMPLES_DIR } from '../../electron/engine/paths.ts';
import { judge } from './check.ts';
import { configGraph, randomConfigCase, writeConfigCase } from './configs.ts';
import { createRng, mutateGraph, randomGraph } from './generate.ts';
import { randomSignatureCase, signatureGraph, writeSignatureCase } from './signatures.ts';
import { prepareFuzzTwins, twinGraph } from './twins.ts';

const RUN_LIMIT_MS = 30_000;

async function main(argv: string[]): Promise<number> {
  const [seedArg, countArg] = argv.filter((a) => !a.startsWith('--'));
  const seed = Number(seedArg ?? 1);
  const count = Number(countArg ?? 100);
  if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 1) {
    console.error('usage: run.ts <seed> <count> [--mutate | --twins | --configs | --signatures] [--out DIR]');
    return 2;
  }
  const mutate = argv.includes('--mutate');
  const withTwins = argv.includes('--twins');
  const withConfigs = argv.includes('--configs');
  const withSignatures = argv.includes('--signatures');
  const ownFolder = withConfigs || withSignatures;
  const outFlag = argv.indexOf('--out');
  const saveDir = outFlag >= 0 ? path.resolve(argv[outFlag + 1]) : fs.mkdtempSync(path.join(os.tmpdir(), 'graph-fuzz-'));
  fs.mkdirSync(saveDir, { recursive: true });
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'graph-fuzz-out-'));
  const twinDir = path.join(runDir, 'twins');
  const configDir = path.join(runDir, 'configs');
  const engine = new Engine({ outDir: runDir, providers: ['cpu'], readRoots: [twinDir, configDir, saveDir] });
  const twins = withTwins ? await prepareFuzzTwins((fs.mkdirSync(twinDir), twinDir)) : [];
  const rng = createRng(seed);
  const types = await engine.listNodeTypes();
  const examples = fs
    .readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, f), 'utf8')));
  const outcomes = new Map<string, number>();
  const causes = new Map<string, number>();
  let broken = 0;
  try {
    for (let i = 0; i < count; i++) {
      // --configs, --signatures: a fresh folder per graph (the model service caches a folder's config by its path).
      const folder = path.join(configDir, `m${i}`);
      if (withConfigs) await writeConfigCase(folder, randomConfigCase(rng, Number(process.env.FUZZ_CONFIG_KEYS ?? 6)));
      const signature = withSignatures ? randomSignatureCase(rng) : undefined;
      if (signature) await writeSignatureCase(folder, signature);
      // --mutate damages a shipped example or, half the time, a random graph.
      const graph = withConfigs
        ? configGraph(rng, types, folder)
        : signature
          ? signatureGraph(rng, types, folder, signature)
          : mutate
        ? mutateGraph(rng, rng.chance(0.5) ? rng.pick(examples) : randomGraph(rng, types), types)
        : withTwins
          ? twinGraph(rng, types, twins)
          : randomGraph(rng, types);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), RUN_LIMIT_MS);
      let tag: string;
      let problem: string | undefined;
      try {
        const { summary } = await engine.execute({ graph, signal: controller.signal });
        const verdict = judge(summary);
        tag = summary.status === 'cancelled' ? 'ran past the limit' : verdict.outcome;
        problem = verdict.problem ?? (summary.status === 'cancelled' ? `ran past ${RUN_LIMIT_MS / 1000} s` : undefined);
        if (verdict.category) causes.set(verdict.category.slice(0, 140), (causes.get(verdict.category.slice(0, 140)) ?? 0) + 1);
      } catch (e) {
        tag = 'threw';
        problem = `the engine threw: ${(e as Error).stack ?? String(e)}`;
      } finally {
        clearTimeout(timer);
      }
      outcomes.set(tag, (outcomes.get(tag) ?? 0) + 1);
      if (problem) {
        broken++;
        const file = path.join(saveDir, `seed${seed}-${i}.json`);
        if (ownFolder) {
          // The model folder goes along, and the graph names the kept copy.
          const kept = path.join(saveDir, `seed${seed}-${i}-model`);
          fs.cpSync(folder, kept, { recursive: true });
          (graph as { nodes: { id: string; params: Record<string, unknown> }[] }).nodes.find((n) => n.id === 'model')!.params.model = kept;
        }
        fs.writeFileSync(file, JSON.stringify(graph, null, 1));
        console.log(`#${i}: ${problem}\n  graph: ${file}`);
      }
      if (ownFolder) fs.rmSync(folder, { recursive: true, force: true });
    }
  } finally {
    await engine.dispose();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
  console.log(`\n${count} graphs (seed ${seed}${mutate ? ', mutated examples and random graphs' : withTwins ? ', conditional twins' : withConfigs ? ', random scheduler configs' : withSignatures ? ', random network signatures' : ''}):`, Object.fromEntries(outcomes));
  for (const [cause, n] of [...causes].sort((a, b) => b[1] - a[1])) console.log(String(n).padStart(5), cause);
  // A temp folder of our own with nothing in it goes; a folder the caller named stays.
  if (broken === 0 && outFlag < 0) fs.rmSync(saveDir, { recursive: true, force: true });
  return broken > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
