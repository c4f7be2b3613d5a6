/**
 * What running the engine in a worker costs: a 50-step run and reading a large output back, in process,
 * in a worker thread and in a worker process (what the app uses: it survives a native crash). The run
 * sends events across for every step; the read copies the tensor across once.
 */
import fs from 'node:fs';
import type { EngineAPI } from '../electron/engine/api.ts';
import { Engine } from '../electron/engine/engine.ts';
import { processHost } from '../electron/engine/worker/process-host.ts';
import { threadHost } from '../electron/engine/worker/thread-host.ts';
import { WorkerEngine } from '../electron/engine/worker/worker-client.ts';
import { median, samplerGraph, tempDir, type BenchRow } from './util.ts';

const RUNS = 20;
const WARMUP = 10;
/** A latent of 4096 x 3 x 16 x 16 floats: 12 MiB. */
const BIG_BATCH = 4096;

async function time(fn: () => Promise<unknown>, runs: number, warmup: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs + warmup; i++) {
    const t0 = performance.now();
    await fn();
    if (i >= warmup) ms.push(performance.now() - t0);
  }
  return median(ms);
}

async function measure(engine: EngineAPI): Promise<{ runMs: number; readMs: number }> {
  const doc = samplerGraph('embedded:gaussian-vp-continuous', 'euler', 50);
  const runMs = await time(async () => {
    const r = await engine.run({ graph: doc, force: ['sampler'] });
    if (r.status !== 'finished') throw new Error(`bench run ${r.status}: ${r.error?.message}`);
  }, RUNS, WARMUP);
  const big = await engine.run({ graph: samplerGraph('embedded:gaussian-vp-continuous', 'euler', 1, BIG_BATCH) });
  if (big.status !== 'finished') throw new Error(`bench run ${big.status}: ${big.error?.message}`);
  const readMs = await time(async () => {
    const v = await engine.readOutput(big.runId, 'sampler', 'latent');
    if (!v) throw new Error('no latent to read');
  }, 10, 3);
  return { runMs, readMs };
}

export async function workerRows(): Promise<BenchRow[]> {
  const outDir = tempDir();
  const init = { outDir, providers: ['cpu'] };
  // One at a time: a worker starting up (loading its code, its models) would slow the others' rows.
  const here = await measureClosing(new Engine(init), (e) => e.dispose());
  const inThread = await measureClosing(new WorkerEngine(init, { host: threadHost }), (e) => e.close());
  const inProcess = await measureClosing(new WorkerEngine(init, { host: processHost }), (e) => e.close());
  try {
    const mib = (BIG_BATCH * 3 * 16 * 16 * 4) / 2 ** 20;
    return [
      {
        name: 'engine in a worker: 50-step Euler run, ms (in process / worker thread / worker process)',
        value: `${here.runMs.toFixed(2)} / ${inThread.runMs.toFixed(2)} / ${inProcess.runMs.toFixed(2)}`,
        target: '-',
        note: `median of ${RUNS}; the app runs the engine in a worker process, which a native crash cannot take the app down with; the difference is the per-step events crossing over`,
      },
      {
        name: `engine in a worker: reading a ${mib} MiB output back, ms (in process / worker thread / worker process)`,
        value: `${here.readMs.toFixed(2)} / ${inThread.readMs.toFixed(2)} / ${inProcess.readMs.toFixed(2)}`,
        target: '-',
        note: 'median of 10; the engine copies an output it hands out (the cached one stays as it was), a thread adds a structured clone, a process a trip through its IPC pipe (V8 serialization)',
      },
    ];
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}

async function measureClosing<E extends EngineAPI>(engine: E, close: (e: E) => Promise<void>) {
  try {
    await engine.listNodeTypes(); // started
    return await measure(engine);
  } finally {
    await close(engine);
  }
}
