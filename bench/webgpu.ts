/**
 * `npm run bench -- --only webgpu`: the time of one model call on the CPU and on onnxruntime-node's WebGPU
 * provider, through the engine, for the conv net of bench/conv-model.ts (a 4x64x64 latent, 0.35 GFLOP per
 * sample) at growing batch sizes. Each call copies its inputs and outputs between CPU and GPU, so small
 * calls lose on the GPU and large ones win. Not in the default groups: on a machine without a GPU adapter
 * it can only say so (README "WebGPU on Linux" says what WebGPU needs there).
 */
import { Engine } from '../electron/engine/engine.ts';
import { checkProviders } from '../electron/engine/onnx/provider-check.ts';
import type { BenchRow } from './util.ts';
import { writeConvModel } from './conv-model.ts';
import { samplerGraph, tempDir } from './util.ts';

const BATCHES = [1, 16, 64];
const STEPS = 20;
const RUNS = 3;


/** Median ms per ORT call over RUNS forced runs, after one run that loads the model. */
async function msPerCall(provider: string, model: string, root: string, batch: number): Promise<number> {
  const engine = new Engine({ outDir: tempDir('flowstudio-bench-webgpu-'), providers: [provider], readRoots: [root] });
  try {
    const graph = samplerGraph(model, 'euler', STEPS, batch, { channels: 4, height: 64, width: 64 });
    const first = await engine.run({ graph });
    if (first.status !== 'finished') throw new Error(`${provider} run ${first.status}: ${first.error?.message ?? first.errors?.[0]?.message}`);
    const perCall: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const before = await engine.pool.stats();
      await engine.run({ graph, force: ['sampler'] });
      const after = await engine.pool.stats();
      perCall.push((after.runMs - before.runMs) / (after.runs - before.runs));
    }
    return perCall.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
  } finally {
    await engine.dispose();
  }
}

export async function webgpuRows(): Promise<BenchRow[]> {
  const webgpu = (await checkProviders()).find((c) => c.provider === 'webgpu');
  if (webgpu?.state !== 'works') {
    return [{ name: 'WebGPU model call', value: '-', target: '-', note: `WebGPU cannot run here: ${webgpu?.hint ?? webgpu?.error ?? webgpu?.state ?? 'unknown'}` }];
  }
  const root = tempDir('flowstudio-bench-webgpu-model-');
  const model = await writeConvModel(root);
  const rows: BenchRow[] = [];
  for (const batch of BATCHES) {
    const cpu = await msPerCall('cpu', model, root, batch);
    const gpu = await msPerCall('webgpu', model, root, batch);
    rows.push({
      name: `model call, conv net, batch ${batch}: WebGPU ms (CPU ms in the note)`,
      value: gpu.toFixed(2),
      target: '-',
      note: `CPU ${cpu.toFixed(2)} ms per call; median of ${RUNS} runs of ${STEPS} Euler steps after a loading run; ${(0.35 * batch).toFixed(2)} GFLOP per call`,
    });
  }
  return rows;
}
