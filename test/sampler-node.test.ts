import { describe, expect, it } from 'vitest';
import { paramDefaults } from '../nodes/core/params.ts';
import { randomNormal } from '../nodes/core/random.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ExecContext, FileService, ModelService } from '../nodes/core/types.ts';
import type { ModelHandle, Sigmas } from '../nodes/core/values.ts';
import { createGaussianParams, sampleData, transportExact } from '../nodes/sampling/gaussian.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { Sampler } from '../nodes/sampler.ts';
import { fakeFlowModel, fakeVpModel, relL2, SD_VP_DDIM } from './sampling-fake-model.ts';

const p = createGaussianParams({ dims: [3, 8, 8], seed: 5 });
const DIMS = [1, 3, 8, 8];

interface FakeCtx extends ExecContext {
  steps: { step: number; total: number; preview?: Tensor }[];
  controller: AbortController;
}

function fakeContext(): FakeCtx {
  const controller = new AbortController();
  const steps: FakeCtx['steps'] = [];
  return {
    nodeId: 'n1',
    nodeType: 'Sampler',
    signal: controller.signal,
    models: {} as ModelService,
    files: {} as FileService,
    graph: null,
    controller,
    steps,
    progress(step, total, preview) {
      // A preview may come as a function, called only when one is sent: this context sends every one.
      steps.push({ step, total, preview: typeof preview === 'function' ? preview() : preview });
    },
    throwIfAborted() {
      if (controller.signal.aborted) throw new DOMException('The run was cancelled', 'AbortError');
    },
  };
}

type Params = Parameters<typeof Sampler.execute>[2];
const defaults = paramDefaults(Sampler) as Params;

function run(model: ModelHandle, opts: { params?: Partial<Params>; latent?: Tensor; noise?: Tensor; sigmas?: Sigmas; ctx?: FakeCtx } = {}) {
  const ctx = opts.ctx ?? fakeContext();
  return Sampler.execute(
    ctx,
    { model, latent: opts.latent ?? Tensor.zeros(DIMS), noise: opts.noise, sigmas: opts.sigmas, conditioning: undefined, guidance: undefined, mean: undefined },
    { ...defaults, ...opts.params },
  );
}

describe('Sampler node', () => {
  it('declares its ports and params', () => {
    expect(Sampler.type).toBe('Sampler');
    expect(Sampler.category).toBe('sampling');
    expect(Sampler.params.solver.options).toEqual(expect.arrayContaining(['ddim', 'euler']));
    expect(Sampler.params.eta.when).toEqual({ param: 'solver', in: ['ddim'] });
    expect(Sampler.inputs.noise.optional).toBe(true);
  });

  it('returns latents of the latent shape and reports progress with previews', async () => {
    const ctx = fakeContext();
    const out = await run(fakeVpModel(p), { ctx, params: { steps: 6 } });
    expect(out.latent.dims).toEqual(DIMS);
    expect(out.denoised.dims).toEqual(DIMS);
    expect(ctx.steps.map((s) => [s.step, s.total])).toEqual([1, 2, 3, 4, 5, 6].map((i) => [i, 6]));
    expect(ctx.steps.every((s) => s.preview?.sameShape(out.latent))).toBe(true);
  });

  it('DDIM starts from randn in VP variables and returns the VP sample at the last level', async () => {
    // A grid that stops at a high level (sigma ~0.8) so VP and VE variables differ clearly there.
    const model = fakeVpModel(p);
    const full = buildSigmas(SD_VP_DDIM, model.modelIndex, 200, 'ddim');
    const sigmas: Sigmas = { ...full, sigmas: full.sigmas.slice(0, 151), timesteps: full.timesteps.slice(0, 150) };
    const out = await run(model, { sigmas, params: { seed: 3 } });
    const [a, b] = [sigmas.sigmas[0], sigmas.sigmas[150]].map((s) => 1 / Math.sqrt(s * s + 1));
    expect(1 / b).toBeGreaterThan(1.2);
    const z = Float64Array.from(randomNormal(DIMS, 3).data);
    const exact = transportExact(p, z, a, Math.sqrt(1 - a * a), b, Math.sqrt(1 - b * b));
    expect(relL2(out.latent.data, exact)).toBeLessThan(0.01);
  });

  it('Euler ends at sigma 0, so its latent equals its last x0 prediction step', async () => {
    const cfg = { ...SD_VP_DDIM, _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'linspace' };
    const out = await run(fakeVpModel(p, cfg), { params: { solver: 'euler', steps: 8 } });
    expect(relL2(out.latent.data, out.denoised.data)).toBeLessThan(1e-6);
  });

  it('is deterministic for a seed; other seeds and eta > 0 change the result reproducibly', async () => {
    const a = await run(fakeVpModel(p), { params: { seed: 42, steps: 5 } });
    const b = await run(fakeVpModel(p), { params: { seed: 42, steps: 5 } });
    const c = await run(fakeVpModel(p), { params: { seed: 43, steps: 5 } });
    expect([...a.latent.data]).toEqual([...b.latent.data]);
    expect(relL2(a.latent.data, c.latent.data)).toBeGreaterThan(0.01);
    // Connecting RandomNoise with the same seed is the same as leaving noise unconnected.
    const d = await run(fakeVpModel(p), { params: { seed: 42, steps: 5 }, noise: randomNormal(DIMS, 42) });
    expect([...d.latent.data]).toEqual([...a.latent.data]);
    const e1 = await run(fakeVpModel(p), { params: { seed: 42, steps: 5, eta: 1 } });
    const e2 = await run(fakeVpModel(p), { params: { seed: 42, steps: 5, eta: 1 } });
    expect([...e1.latent.data]).toEqual([...e2.latent.data]);
    expect(relL2(e1.latent.data, a.latent.data)).toBeGreaterThan(0.01);
  });

  it('stops within one model call of an abort', async () => {
    const model = fakeVpModel(p);
    const ctx = fakeContext();
    model.onRun = (call) => {
      if (call === 3) ctx.controller.abort();
    };
    await expect(run(model, { ctx, params: { steps: 20 } })).rejects.toMatchObject({ name: 'AbortError' });
    expect(model.calls).toBe(4);
  });

  it('denoise < 1 starts from the noised latent and runs the last floor(N * denoise) steps', async () => {
    const model = fakeVpModel(p);
    const x0 = new Tensor(DIMS, Float32Array.from(sampleData(p, 1, 9)));
    const out = await run(model, { latent: x0, params: { steps: 20, denoise: 0.45 } });
    expect(model.calls).toBe(9);
    // diffusers img2img: timesteps[t_start:] with t_start = 20 - 9 (leading grid: 951, 901, ... -> 401 first).
    expect(model.seen[0]).toBe(401);
    expect(out.latent.dims).toEqual(DIMS);
    // The more of the schedule runs, the further the result moves from the start image.
    const distance: number[] = [];
    for (const denoise of [0.1, 0.5, 1]) {
      const r = await run(fakeVpModel(p), { latent: x0, params: { steps: 20, denoise } });
      distance.push(relL2(r.latent.data, x0.data));
    }
    expect(distance[0]).toBeLessThan(distance[1]);
    expect(distance[1]).toBeLessThan(distance[2]);
    expect(distance[0]).toBeLessThan(distance[2] / 2);
    const none = await run(fakeVpModel(p), { latent: x0, params: { denoise: 0 } });
    expect([...none.latent.data]).toEqual([...x0.data]);
  });

  it('runs flow models with either solver (same step)', async () => {
    const a = await run(fakeFlowModel(p), { params: { solver: 'ddim', steps: 10 } });
    const b = await run(fakeFlowModel(p), { params: { solver: 'euler', steps: 10 } });
    expect([...a.latent.data]).toEqual([...b.latent.data]);
    await expect(run(fakeFlowModel(p), { params: { solver: 'ddim', eta: 0.5 } })).rejects.toThrow(/flow model/);
  });

  it('uses connected sigmas, and refuses sigmas of the other space', async () => {
    const model = fakeVpModel(p);
    const sigmas = buildSigmas(SD_VP_DDIM, model.modelIndex, 3, 'ddim');
    await run(model, { sigmas, params: { steps: 50 } });
    expect(model.seen).toEqual([667, 334, 1]);
    const flow = fakeFlowModel(p);
    const flowSigmas = buildSigmas(flow.scheduler, flow.modelIndex, 4, 'euler');
    await expect(run(fakeVpModel(p), { sigmas: flowSigmas })).rejects.toThrow(/"flow" model but this model is "vp"/);
  });

  it('names both shapes when the latent does not fit the model', async () => {
    await expect(run(fakeVpModel(p), { latent: Tensor.zeros([1, 4, 8, 8]) })).rejects.toThrow(
      'latent shape [1, 4, 8, 8] does not match the model input "sample" shape [batch, 3, 8, 8]',
    );
    await expect(run(fakeVpModel(p), { noise: Tensor.zeros([1, 3, 4, 4]) })).rejects.toThrow(/noise shape \[1, 3, 4, 4\]/);
  });

  it('names the step when the model output is not finite', async () => {
    const model = fakeVpModel(p);
    const inner = model.denoiser.run.bind(model.denoiser);
    model.denoiser.run = async (feeds, signal) => {
      const out = await inner(feeds, signal);
      if (model.calls === 3) out.out_sample.data[5] = Number.NaN;
      return out;
    };
    await expect(run(model, { params: { steps: 10 } })).rejects.toThrow(/non-finite value \(NaN .*step 3 of 10/);
  });
});
