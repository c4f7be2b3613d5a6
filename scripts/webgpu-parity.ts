/**
 * WebGPU against the CPU, on a machine with a GPU: `npx tsx scripts/webgpu-parity.ts [count] [seed]`.
 * Prints what `flowstudio providers` says, then runs random graphs (half of them on the conditional twins of
 * SD 1.x, SDXL, SD3, FLUX, ...) once on a CPU engine and once on a WebGPU engine, and checks that every graph
 * ends the same way and that every tensor output's min, max and mean agree (relative 1e-3), and that no
 * graph-fuzz rule breaks on WebGPU. Exit code 1 on any difference. README ("WebGPU on Linux") has a result.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../electron/engine/engine.ts';
import type { ValueSummary } from '../electron/engine/summary.ts';
import { checkProviders, describeProviderChecks } from '../electron/engine/onnx/provider-check.ts';
import { judge } from './graph-fuzz/check.ts';
import { createRng, randomGraph } from './graph-fuzz/generate.ts';
import { prepareFuzzTwins, twinGraph } from './graph-fuzz/twins.ts';

const TOLERANCE = 1e-3;

const count = Number(process.argv[2] ?? 200);
const seed = Number(process.argv[3] ?? 7);
console.log(describeProviderChecks(await checkProviders()).join('\n'));

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-webgpu-parity-'));
const twinDir = path.join(runDir, 'twins');
fs.mkdirSync(twinDir);
const engineOn = (provider: string) => new Engine({ outDir: path.join(runDir, provider), providers: [provider], readRoots: [twinDir] });
const cpu = engineOn('cpu');
const gpu = engineOn('webgpu');
const outcomes = new Map<string, number>();
const problems: string[] = [];
const ranOn = new Set<string>();
let worst = 0;
try {
  const twins = await prepareFuzzTwins(twinDir);
  const types = await cpu.listNodeTypes();
  const rng = createRng(seed);
  for (let i = 0; i < count; i++) {
    const graph = i % 2 === 0 ? randomGraph(rng, types) : twinGraph(rng, types, twins);
    const a = (await cpu.execute({ graph, signal: AbortSignal.timeout(30_000) })).summary;
    const b = (await gpu.execute({ graph, signal: AbortSignal.timeout(60_000) })).summary;
    const rule = judge(b).problem;
    if (rule) problems.push(`#${i} on webgpu: ${rule}`);
    outcomes.set(a.status === b.status ? a.status : 'differ', (outcomes.get(a.status === b.status ? a.status : 'differ') ?? 0) + 1);
    if (a.status !== b.status) {
      problems.push(`#${i}: cpu ${a.status}, webgpu ${b.status}: ${b.error?.message ?? a.error?.message ?? ''}`);
      continue;
    }
    for (const [node, ports] of Object.entries(a.outputs)) {
      for (const [port, x] of Object.entries(ports)) {
        const y = b.outputs[node]?.[port] as ValueSummary | undefined;
        if (x.kind === 'model' && y?.kind === 'model') ranOn.add(y.provider);
        if (x.kind !== 'tensor' || y?.kind !== 'tensor') continue;
        const scale = Math.max(1e-3, Math.abs(x.min), Math.abs(x.max));
        const diff = Math.max(Math.abs(x.min - y.min), Math.abs(x.max - y.max), Math.abs(x.mean - y.mean)) / scale;
        worst = Math.max(worst, diff);
        if (!(diff < TOLERANCE)) problems.push(`#${i} ${node}.${port}: cpu [${x.min}, ${x.max}, mean ${x.mean}], webgpu [${y.min}, ${y.max}, mean ${y.mean}]`);
      }
    }
  }
} finally {
  await cpu.dispose();
  await gpu.dispose();
  fs.rmSync(runDir, { recursive: true, force: true });
}
console.log(`\n${count} graphs (seed ${seed}):`, Object.fromEntries(outcomes));
console.log(`models ran on: ${[...ranOn].join(', ') || 'none'}; largest relative difference of a tensor statistic: ${worst.toExponential(2)}`);
for (const p of problems.slice(0, 40)) console.log(p);
process.exitCode = problems.length > 0 || !ranOn.has('webgpu') ? 1 : 0;
