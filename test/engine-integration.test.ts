/**
 * The engine end to end on the embedded ONNX models: examples run and are reproducible, caching re-runs
 * only the dirty part (counted in ORT calls), cancellation stops within one model call, bad models fail
 * with the node named, and DDIM converges at first order to the exact PF-ODE solution.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../electron/engine/engine.ts';
import { readGraphFile } from '../electron/engine/graph/io.ts';
import { EXAMPLES_DIR } from '../electron/engine/paths.ts';
import { decodePng } from '../nodes/core/io/png.ts';
import { readNpy } from '../nodes/core/io/npy.ts';
import { randomNormal } from '../nodes/core/random.ts';
import { alphasCumprod, betasFromConfig } from '../nodes/sampling/betas.ts';
import { createGaussianParams, transportExact } from '../nodes/sampling/gaussian.ts';
import { VP_SCHEDULER_CONFIG } from '../electron/engine/models/analytic.ts';
import { createTestEngine, graph, tempDir } from './helpers/engine.ts';
import type { Tensor } from '../nodes/core/tensor.ts';
import { relL2 } from './sampling-fake-model.ts';

const engines: Engine[] = [];
function engine(opts = {}): Engine {
  const e = createTestEngine(opts);
  engines.push(e);
  return e;
}
afterAll(async () => {
  for (const e of engines) await e.dispose();
});

const modelCalls = async (e: Engine) => (await e.pool.stats()).runs;

describe('examples', () => {
  for (const name of ['gaussian-vp-ddim.json', 'gaussian-rf-euler.json', 'gaussian-vp-ddim-inversion.json', 'comfyui-dpmpp2m-karras.json', 'comfyui-dpmpp2m-sde-karras.json', 'comfyui-align-your-steps.json', 'comfyui-two-samplers.json']) {
    it(`${name} writes a PNG with its graph embedded and a reproducible .npy`, async () => {
      const doc = readGraphFile(path.join(EXAMPLES_DIR, name));
      const first = await engine().run({ graph: doc });
      expect(first.error).toBeUndefined();
      expect(first.status).toBe('finished');
      const npyPath = String((first.outputs.save_latent.path as { value: string }).value);
      const pngPath = String((first.outputs.save_image.path as { value: string }).value);
      const npy1 = fs.readFileSync(npyPath);
      const latent = readNpy(npy1);
      expect(latent.dims).toEqual([1, 3, 16, 16]);
      expect(latent.firstNonFinite()).toBe(-1);
      const png = decodePng(fs.readFileSync(pngPath));
      expect(png.image.dims).toEqual([1, 3, 16, 16]);
      expect(JSON.parse(png.text.flowstudio).nodes.map((n: { id: string }) => n.id)).toEqual(doc.nodes.map((n) => n.id));

      // A fresh engine (no shared cache) gives byte-identical latents.
      const second = await engine().run({ graph: doc });
      const npy2 = fs.readFileSync(String((second.outputs.save_latent.path as { value: string }).value));
      expect(Buffer.compare(npy1, npy2)).toBe(0);
    });
  }
});

describe('inversion example', () => {
  it('inverts the generated latent to noise and samples it back: 150 model calls, a close but not exact round trip', async () => {
    const e = engine();
    const { summary, result } = await e.execute({ graph: readGraphFile(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim-inversion.json')) });
    expect(summary.status).toBe('finished');
    expect(await modelCalls(e)).toBe(150);
    const out = (id: string) => result!.outputs.get(id)!.latent as Tensor;
    const rel = relL2(out('reconstruct').data, out('generate').data);
    // DDIM inversion calls the model one level off (DDIMInverseScheduler): a few percent, not zero.
    expect(rel).toBeGreaterThan(1e-3);
    expect(rel).toBeLessThan(0.1);
    expect((summary.outputs.fidelity.metrics as unknown as { values: { rel_l2: number } }).values.rel_l2).toBeCloseTo(rel, 5);
    // The inverted latent is noise-like: near unit variance at the top level (the data variance is below 1).
    const noise = out('invert').data;
    const variance = noise.reduce((a, v) => a + v * v, 0) / noise.length;
    expect(variance).toBeGreaterThan(0.5);
    expect(variance).toBeLessThan(1.5);
  });
});

describe('caching', () => {
  it('re-runs only what a param change makes dirty, counted in model calls', async () => {
    const e = engine();
    const doc = readGraphFile(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json'));
    const steps = doc.nodes.find((n) => n.id === 'sampler')!.params.steps as number;
    await e.run({ graph: doc });
    expect(await modelCalls(e)).toBe(steps);

    // Downstream change (output file name): the sampler is cached, no model call.
    const renamed = structuredClone(doc);
    renamed.nodes.find((n) => n.id === 'save_image')!.params.filename = 'renamed.png';
    const started: string[] = [];
    const off = e.subscribe((ev) => ev.type === 'node-started' && started.push(ev.nodeId));
    const r2 = await e.run({ graph: renamed });
    off();
    expect(r2.status).toBe('finished');
    expect(await modelCalls(e)).toBe(steps);
    expect(started).not.toContain('sampler');
    expect(started).toContain('save_image');

    // Sampler change: exactly the new step count of model calls.
    const fewer = structuredClone(doc);
    fewer.nodes.find((n) => n.id === 'sampler')!.params.steps = 7;
    await e.run({ graph: fewer });
    expect(await modelCalls(e)).toBe(steps + 7);

    // force re-executes the sampler even though nothing changed.
    await e.run({ graph: fewer, force: ['sampler'] });
    expect(await modelCalls(e)).toBe(steps + 14);
  });
});

describe('cancellation', () => {
  it('stops a sampler within one model call of the cancel', async () => {
    const e = engine();
    const doc = graph(
      [
        { id: 'model', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' } },
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'sampler', type: 'Sampler', params: { steps: 500, seed: 1 } },
      ],
      ['model.model->sampler.model', 'latent.latent->sampler.latent'],
    );
    const runId = 'cancel-me';
    let callsAtCancel = -1;
    const off = e.subscribe((ev) => {
      if (ev.type === 'node-progress' && ev.nodeId === 'sampler' && ev.step === 10 && callsAtCancel < 0) {
        void modelCalls(e).then((n) => {
          callsAtCancel = n;
          void e.cancel(runId);
        });
      }
    });
    const r = await e.run({ graph: doc, runId });
    off();
    expect(r.status).toBe('cancelled');
    expect(callsAtCancel).toBeGreaterThanOrEqual(10);
    const after = await modelCalls(e);
    expect(after - callsAtCancel).toBeLessThanOrEqual(1);
    expect(after).toBeLessThan(500);
    // Nothing keeps running after run() settled.
    await new Promise((res) => setTimeout(res, 50));
    expect(await modelCalls(e)).toBe(after);
  });
});

describe('progress events', () => {
  const run = async (solver: string) => {
    const e = engine();
    const doc = graph(
      [
        { id: 'model', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' } },
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'sampler', type: 'Sampler', params: { solver, steps: 6, seed: 1 } },
      ],
      ['model.model->sampler.model', 'latent.latent->sampler.latent'],
    );
    const progress: { step: number; total: number; unit?: string }[] = [];
    const off = e.subscribe((ev) => {
      if (ev.type === 'node-progress' && ev.nodeId === 'sampler') progress.push({ step: ev.step, total: ev.total, ...(ev.unit ? { unit: ev.unit } : {}) });
    });
    const r = await e.run({ graph: doc });
    off();
    expect(r.status).toBe('finished');
    return progress;
  };

  it('a Sampler counts its steps; dpm_adaptive, one grid step of many model calls, counts percent of its walk', async () => {
    expect(await run('euler')).toEqual([1, 2, 3, 4, 5, 6].map((step) => ({ step, total: 6 })));
    const adaptive = await run('dpm_adaptive');
    expect(adaptive.length).toBeGreaterThan(3);
    expect(adaptive.every((p) => p.unit === 'percent' && p.total === 100)).toBe(true);
    adaptive.forEach((p, k) => expect(p.step).toBeGreaterThan(k ? adaptive[k - 1].step : -1));
    expect(adaptive[adaptive.length - 1].step).toBe(100);
  });
});

describe('loaded models', () => {
  it('past the bound a model is unloaded and its cached handle loads it again: results stay exact', async () => {
    const twoModels = graph(
      [
        { id: 'vp', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' } },
        { id: 'rf', type: 'LoadModel', params: { model: 'embedded:gaussian-rf' } },
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'a', type: 'Sampler', params: { solver: 'ddim', steps: 6, seed: 1 } },
        { id: 'b', type: 'Sampler', params: { solver: 'euler', steps: 6, seed: 2 } },
      ],
      ['vp.model->a.model', 'rf.model->b.model', 'latent.latent->a.latent', 'latent.latent->b.latent'],
    );
    const latents = async (e: Engine, force?: string[]) => {
      const { result } = await e.execute({ graph: twoModels, force });
      expect(result?.error).toBeUndefined();
      return ['a', 'b'].map((id) => Array.from((result!.outputs.get(id)!.latent as Tensor).data));
    };
    const free = engine();
    const bounded = engine({ maxLoadedModels: 1 });
    const want = await latents(free);
    expect(await latents(bounded)).toEqual(want);
    expect(bounded.pool.loadedNow().count).toBe(1);
    // Both LoadModel outputs now come from the cache, one of them holding an unloaded session.
    const calls = await modelCalls(bounded);
    expect(await latents(bounded, ['a', 'b'])).toEqual(want);
    expect((await modelCalls(bounded)) - calls).toBe(12);
    expect(bounded.pool.loadedNow().count).toBe(1);
    expect((await bounded.pool.stats()).sessions).toBe(2);
  });
});

describe('systemInfo', () => {
  it('checks the execution providers once per engine, and reports the engine\'s folders', async () => {
    const e = engine();
    const first = await e.systemInfo();
    const second = await e.systemInfo();
    expect(second.providers).toBe(first.providers); // the same check, not a second round of test sessions
    expect([first.cacheDir, first.outDir]).toEqual([e.cacheDir, e.outDir]);
    expect(first.providers.find((p) => p.provider === 'cpu')).toMatchObject({ state: 'works' });
  });
});

describe('freeMemory', () => {
  it('keeps the model a run in progress calls, unloads it once the run is done, drops the cache, and refuses bad options', async () => {
    const e = engine();
    const doc = graph(
      [
        { id: 'model', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' } },
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'sampler', type: 'Sampler', params: { solver: 'ddim', steps: 300, seed: 4 } },
      ],
      ['model.model->sampler.model', 'latent.latent->sampler.latent'],
    );
    let during: Promise<unknown> | undefined;
    const off = e.subscribe((ev) => {
      if (ev.type === 'node-progress' && ev.nodeId === 'sampler' && ev.step === 5 && !during) during = e.freeMemory({ cache: false });
    });
    const summary = await e.run({ graph: doc });
    off();
    expect(summary.status).toBe('finished');
    expect(await during).toMatchObject({ modelsUnloaded: 0, modelsLoaded: 1 });
    const held = await e.memoryStatus();
    expect(held.modelsLoaded).toBe(1);
    expect(held.modelBytes).toBe(fs.statSync((await e.models.load('embedded:gaussian-vp')).denoiser.file).size);
    expect(held.cacheBytes).toBe(e.executor.cache.stats.bytesInMemory);
    expect(held.cacheBytes).toBeGreaterThan(0);
    const after = await e.freeMemory();
    expect(after.cacheBytesFreed).toBe(held.cacheBytes + held.cacheBytesOnDisk);
    expect(await e.memoryStatus()).toEqual({ modelsLoaded: 0, modelBytes: 0, cacheBytes: 0, cacheBytesOnDisk: 0 });
    expect(after.modelsUnloaded).toBe(1);
    expect(after.modelsLoaded).toBe(0);
    expect(after.cacheBytesFreed).toBeGreaterThan(0);
    expect(e.executor.cache.stats.entries).toBe(0);
    expect(await e.freeMemory({ models: false })).toEqual({ modelsUnloaded: 0, modelsLoaded: 0, cacheBytesFreed: 0 });
    await expect(e.freeMemory({ models: 1 } as never)).rejects.toThrow('freeMemory: "models" must be true or false');
    await expect(e.freeMemory({ all: true } as never)).rejects.toThrow('freeMemory: unknown option "all" (known: models, cache)');
    await expect(e.freeMemory('all' as never)).rejects.toThrow(/freeMemory: the request must be an object/);
  });
});

describe('bad models', () => {
  it('a corrupt .onnx fails the run with the LoadModel node named and a clear cause', async () => {
    const dir = tempDir('fs-bad-model-');
    fs.writeFileSync(path.join(dir, 'broken.onnx'), Buffer.from('definitely not a protobuf'));
    fs.writeFileSync(path.join(dir, 'broken.json'), JSON.stringify({ scheduler: { _class_name: 'DDIMScheduler' } }));
    const e = engine({ readRoots: [dir] });
    const doc = graph(
      [
        { id: 'loader', type: 'LoadModel', params: { model: path.join(dir, 'broken.onnx') } },
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'sampler', type: 'Sampler' },
      ],
      ['loader.model->sampler.model', 'latent.latent->sampler.latent'],
    );
    const r = await e.run({ graph: doc });
    expect(r.status).toBe('failed');
    expect(r.error?.nodeId).toBe('loader');
    expect(r.error?.nodeType).toBe('LoadModel');
    expect(r.error?.message).toMatch(/cannot load ONNX model .*broken\.onnx/);
  });

  it('a missing model folder fails with the node named', async () => {
    const dir = tempDir('fs-missing-model-');
    const e = engine({ readRoots: [dir] });
    const doc = graph([{ id: 'loader', type: 'LoadModel', params: { model: path.join(dir, 'nope') } }], []);
    const r = await e.run({ graph: doc });
    expect(r.status).toBe('failed');
    expect(r.error?.nodeId).toBe('loader');
    expect(r.error?.message).toMatch(/nope/);
  });
});

describe('DDIM on the ONNX VP Gaussian model', () => {
  it('converges to the exact PF-ODE solution at first order (10..160 steps)', async () => {
    const e = engine();
    const p = createGaussianParams();
    const dims = [1, 3, 16, 16];
    const seed = 11;
    const noise = randomNormal(dims, seed);
    const abar = alphasCumprod(betasFromConfig(VP_SCHEDULER_CONFIG));
    const T = 1000;
    const stepsList = [10, 20, 40, 80, 160];
    const errors: number[] = [];
    for (const n of stepsList) {
      const doc = graph(
        [
          { id: 'model', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' } },
          { id: 'latent', type: 'EmptyLatent' },
          { id: 'noise', type: 'RandomNoise', params: { seed } },
          { id: 'sampler', type: 'Sampler', params: { solver: 'ddim', steps: n } },
        ],
        ['model.model->sampler.model', 'latent.latent->sampler.latent', 'noise.noise->sampler.noise'],
      );
      const { result } = await e.execute({ graph: doc });
      expect(result?.status).toBe('finished');
      const x = result!.outputs.get('sampler')!.latent as { data: Float32Array };
      // leading spacing, steps_offset 1: the run starts at t0 = (n-1)*(T//n) + 1 and, with
      // set_alpha_to_one false, ends at abar[0].
      const t0 = (n - 1) * Math.floor(T / n) + 1;
      const a1 = Math.sqrt(abar[t0]);
      const b1 = Math.sqrt(1 - abar[t0]);
      const a2 = Math.sqrt(abar[0]);
      const b2 = Math.sqrt(1 - abar[0]);
      const exact = transportExact(p, Float64Array.from(noise.data), a1, b1, a2, b2);
      let num = 0;
      let den = 0;
      for (let i = 0; i < exact.length; i++) {
        num += (x.data[i] - exact[i]) ** 2;
        den += exact[i] ** 2;
      }
      errors.push(Math.sqrt(num / den));
    }
    const lx = stepsList.map(Math.log);
    const ly = errors.map(Math.log);
    const mx = lx.reduce((a, b) => a + b) / lx.length;
    const my = ly.reduce((a, b) => a + b) / ly.length;
    const slope = lx.reduce((s, v, i) => s + (v - mx) * (ly[i] - my), 0) / lx.reduce((s, v) => s + (v - mx) ** 2, 0);
    expect(errors[errors.length - 1]).toBeLessThan(errors[0]);
    expect(Math.abs(-slope - 1)).toBeLessThan(0.15);
  });
});
