/**
 * Inversion from a graph: Schedule (direction invert) feeding a Sampler, run by the engine on the embedded
 * ONNX models, against diffusers' inverse schedulers written out (test/helpers/diffusers-inverse.ts) and
 * the exact Gaussian flow; plus the inversion grids pinned against literals worked out by hand.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../nodes/core/tensor.ts';
import type { ModelHandle, SchedulerConfig, Sigmas } from '../nodes/core/values.ts';
import { createGaussianParams, transportExact } from '../nodes/sampling/gaussian.ts';
import { dpmInverseSigmas, dpmInverseTimesteps, inversionHead } from '../nodes/sampling/inversion-sigmas.ts';
import { VP_SCHEDULER_CONFIG } from '../electron/engine/models/analytic.ts';
import { createTestEngine, graph, modelWithConfig } from './helpers/engine.ts';
import { ddimInverseLoop, dpmInverseLoop, type RawModel } from './helpers/diffusers-inverse.ts';
import { relL2 } from './sampling-fake-model.ts';
import { diffusersAbar, veLevel } from './helpers/diffusers-table.ts';

const engine = createTestEngine();
afterAll(() => engine.dispose());

type Params = Record<string, string | number | boolean>;

type NodeSpec = { id: string; type: string; params?: Params };

/** `model`, and `gen` sampling an image latent from noise with it (30 steps), then the given nodes and edges. */
function withImage(model: string, nodes: NodeSpec[], edges: string[]) {
  return graph(
    [{ id: 'model', type: 'LoadModel', params: { model } }, { id: 'latent', type: 'EmptyLatent' }, { id: 'gen', type: 'Sampler', params: { solver: 'auto', steps: 30, seed: 3 } }, ...nodes],
    ['model.model->gen.model', 'latent.latent->gen.latent', ...edges],
  );
}

/** sched + inv invert gen's latent. */
function inversionGraph(model: string, schedule: Params, sampler: Params) {
  return withImage(
    model,
    [
      { id: 'sched', type: 'Schedule', params: { direction: 'invert', ...schedule } },
      { id: 'inv', type: 'Sampler', params: sampler },
    ],
    ['model.model->sched.model', 'model.model->inv.model', 'gen.latent->inv.latent', 'sched.sigmas->inv.sigmas'],
  );
}

async function runInversion(model: string, schedule: Params, sampler: Params) {
  const { result } = await engine.execute({ graph: inversionGraph(model, schedule, sampler) });
  if (result?.status !== 'finished') throw new Error(`run ${result?.status}: ${result?.error?.message}`);
  const image = result.outputs.get('gen')!.latent as Tensor;
  const inverted = result.outputs.get('inv')!.latent as Tensor;
  const sigmas = result.outputs.get('sched')!.sigmas as Sigmas;
  return { image, inverted, sigmas };
}

async function failure(model: string, schedule: Params, sampler: Params) {
  const { summary } = await engine.execute({ graph: inversionGraph(model, schedule, sampler) });
  expect(summary.status).toBe('failed');
  return summary.error!;
}

/** The embedded VP unet as diffusers' pipelines call it (int64 timestep, VP latent in, eps out). */
async function vpUnet(): Promise<RawModel> {
  const handle: ModelHandle = await engine.models.load('embedded:gaussian-vp');
  return async (x, t) => {
    const out = await handle.denoiser.run({
      sample: { dims: [1, 3, 16, 16], data: Float32Array.from(x), type: 'float32' },
      timestep: { dims: [1], data: BigInt64Array.of(BigInt(t)), type: 'int64' },
    });
    return Float64Array.from(out.out_sample.data);
  };
}

const VP = 'embedded:gaussian-vp';
const CFG = VP_SCHEDULER_CONFIG as SchedulerConfig;

describe('DPMSolverMultistepInverseScheduler grid (set_timesteps, worked out by hand)', () => {
  const table = diffusersAbar(CFG).map((a) => veLevel(a));
  it('linspace: round(linspace(0, 999, N + 1))[:-1], half to even', () => {
    // linspace(0, 999, 11) = 0, 99.9, 199.8, ..., 499.5, 599.4, ..., 899.1, 999.
    expect(dpmInverseTimesteps({ ...CFG, timestep_spacing: 'linspace' }, 10)).toEqual([0, 100, 200, 300, 400, 500, 599, 699, 799, 899]);
  });
  it('leading: arange(N) * (1000 // (N + 1)) + steps_offset; trailing: round(arange(1000, 0, -T/N))[::-1] - 1', () => {
    expect(dpmInverseTimesteps(CFG, 10)).toEqual([1, 91, 181, 271, 361, 451, 541, 631, 721, 811]);
    expect(dpmInverseTimesteps({ ...CFG, timestep_spacing: 'trailing' }, 10)).toEqual([99, 199, 299, 399, 499, 599, 699, 799, 899, 999]);
  });
  it('levels: the table at each timestep, then sigma_max; the head keeps the first floor(N * denoise) steps', () => {
    const g = dpmInverseSigmas(CFG, 10);
    expect(g.sigmas).toEqual([...[1, 91, 181, 271, 361, 451, 541, 631, 721, 811].map((t) => table[t]), table[999]]);
    const head = inversionHead(g, 0.55);
    expect(head.timesteps).toEqual([1, 91, 181, 271, 361]);
    expect(head.segment).toEqual({ start: 0, total: 10, preceding: [] });
    expect(() => dpmInverseSigmas({ ...CFG, use_karras_sigmas: true }, 10)).toThrow(/use_karras_sigmas is not supported/);
  });
});

describe('inversion in a graph: Schedule (direction invert) -> Sampler', () => {
  it('DDIM: equals diffusers DDIMInverseScheduler written out (leading, and trailing 7 steps); auto picks it on VP models', async () => {
    const unet = await vpUnet();
    for (const [spacing, steps] of [['config', 10], ['trailing', 7]] as const) {
      const cfg = spacing === 'config' ? CFG : { ...CFG, timestep_spacing: spacing };
      const { image, inverted } = await runInversion(VP, { steps, spacing, solver: 'ddim' }, { solver: 'ddim' });
      expect(relL2(inverted.data, await ddimInverseLoop(unet, cfg, steps, image.data))).toBeLessThan(1e-5);
    }
    // DDIMInverseScheduler has no thresholding and clips x0 by default: a config asking for thresholding
    // (and silent on clip_sample) gets clipping to [-1, 1], unlike DDIMScheduler.
    const thresholdCfg = { ...CFG, thresholding: true, clip_sample: undefined };
    const folder = await modelWithConfig(engine, VP, () => thresholdCfg);
    const clipped = await runInversion(folder, { steps: 10 }, { solver: 'ddim' });
    const clippedRef = await ddimInverseLoop(unet, thresholdCfg, 10, clipped.image.data);
    expect(relL2(clipped.inverted.data, clippedRef)).toBeLessThan(1e-5);
    expect(relL2(clippedRef, await ddimInverseLoop(unet, CFG, 10, clipped.image.data))).toBeGreaterThan(1e-4);

    const ddim = await runInversion(VP, { steps: 10, solver: 'ddim' }, { solver: 'ddim' });
    const auto = await runInversion(VP, { steps: 10 }, { solver: 'auto' });
    expect(Array.from(auto.inverted.data)).toEqual(Array.from(ddim.inverted.data));
  });

  it('DPM-Solver++ 2M: equals diffusers DPMSolverMultistepInverseScheduler written out (leading, linspace, and a head)', async () => {
    const unet = await vpUnet();
    const cases: [Params, SchedulerConfig, number, number | undefined][] = [
      [{ steps: 10, solver: 'dpmpp_2m' }, CFG, 10, undefined],
      [{ steps: 12, solver: 'dpmpp_2m', spacing: 'linspace' }, { ...CFG, timestep_spacing: 'linspace' }, 12, undefined],
      // DiffEdit's strength 0.5: the first 5 of 10 timesteps; lower_order_final counts all 10, so the fifth step stays second order.
      [{ steps: 10, solver: 'dpmpp_2m', denoise: 0.5 }, CFG, 10, 5],
    ];
    for (const [schedule, cfg, steps, run] of cases) {
      const { image, inverted, sigmas } = await runInversion(VP, schedule, { solver: 'dpmpp_2m' });
      const ref = await dpmInverseLoop(unet, cfg, steps, image.data, { run });
      expect(sigmas.timesteps).toEqual(ref.calls);
      expect(relL2(inverted.data, ref.x)).toBeLessThan(1e-5);
    }
  });

  it('flow models: flow Euler up the reversed flow grid; RF-Solver inverts and samples back to the image', async () => {
    const rf = 'embedded:gaussian-rf';
    const { image, inverted, sigmas } = await runInversion(rf, { steps: 10 }, { solver: 'auto' });
    expect(sigmas.sigmas[0]).toBe(0);
    expect(sigmas.sigmas[sigmas.sigmas.length - 1]).toBe(1);
    // Written out: x += (t_next - t) v(x, t) with the transformer called at t (scheduler units: t * 1000).
    const handle = await engine.models.load(rf);
    const x = Float64Array.from(image.data);
    for (let k = 0; k < sigmas.timesteps.length; k++) {
      const out = await handle.denoiser.run({
        [handle.denoiser.inputs[0].name]: { dims: [1, 3, 16, 16], data: Float32Array.from(x), type: 'float32' },
        [handle.denoiser.inputs[1].name]: { dims: [1], data: Float32Array.of(sigmas.timesteps[k]), type: 'float32' },
      });
      const v = Object.values(out)[0].data;
      for (let i = 0; i < x.length; i++) x[i] += (sigmas.sigmas[k + 1] - sigmas.sigmas[k]) * v[i];
    }
    expect(relL2(inverted.data, x)).toBeLessThan(1e-5);

    // Round trip: RF-Solver up, then down the forward grid; second order, so 20 steps return the image closely.
    const doc = withImage(
      rf,
      [
        { id: 'up', type: 'Schedule', params: { direction: 'invert', steps: 20, solver: 'rf_solver' } },
        { id: 'down', type: 'Schedule', params: { steps: 20, solver: 'rf_solver' } },
        { id: 'inv', type: 'Sampler', params: { solver: 'rf_solver' } },
        { id: 'back', type: 'Sampler', params: { solver: 'rf_solver', start: 'continue' } },
      ],
      [
        'model.model->up.model', 'model.model->down.model', 'model.model->inv.model', 'gen.latent->inv.latent',
        'up.sigmas->inv.sigmas', 'model.model->back.model', 'inv.latent->back.latent', 'down.sigmas->back.sigmas',
      ],
    );
    const { result } = await engine.execute({ graph: doc });
    expect(result?.status).toBe('finished');
    const back = result!.outputs.get('back')!.latent as Tensor;
    const gen = result!.outputs.get('gen')!.latent as Tensor;
    expect(relL2(back.data, gen.data)).toBeLessThan(2e-3);
  });

  it('VP models, other ODE solvers: their forward grid reversed, converging to the exact reverse flow (Euler, first order)', async () => {
    const p = createGaussianParams();
    const errors: number[] = [];
    for (const steps of [20, 80]) {
      const { image, inverted, sigmas } = await runInversion(VP, { steps, solver: 'euler', final_sigmas: 'sigma_min' }, { solver: 'euler' });
      const [s0, s1] = [sigmas.sigmas[0], sigmas.sigmas[sigmas.sigmas.length - 1]];
      expect(s0).toBeLessThan(s1);
      // VP sample in and out: x_vp = a x0 + b eps with a = 1/sqrt(1 + s^2), b = s a.
      const a = (s: number) => 1 / Math.sqrt(1 + s * s);
      const exact = transportExact(p, Float64Array.from(image.data), a(s0), s0 * a(s0), a(s1), s1 * a(s1));
      errors.push(relL2(inverted.data, exact));
    }
    expect(errors[1]).toBeLessThan(errors[0] / 2.5);
  });

  it('an inversion grid splits like a sampling one: DDIM over two halves equals one run', async () => {
    const doc = withImage(
      VP,
      [
        { id: 'sched', type: 'Schedule', params: { direction: 'invert', steps: 10 } },
        { id: 'split', type: 'SplitSigmas', params: { step: 4 } },
        { id: 'whole', type: 'Sampler', params: { solver: 'ddim' } },
        { id: 'first', type: 'Sampler', params: { solver: 'ddim' } },
        { id: 'second', type: 'Sampler', params: { solver: 'ddim' } },
      ],
      [
        'model.model->sched.model', 'sched.sigmas->split.sigmas', 'model.model->whole.model', 'gen.latent->whole.latent',
        'sched.sigmas->whole.sigmas', 'model.model->first.model', 'gen.latent->first.latent', 'split.high->first.sigmas',
        'model.model->second.model', 'first.latent->second.latent', 'split.low->second.sigmas',
      ],
    );
    const { result } = await engine.execute({ graph: doc });
    expect(result?.status).toBe('finished');
    const whole = result!.outputs.get('whole')!.latent as Tensor;
    const second = result!.outputs.get('second')!.latent as Tensor;
    expect(relL2(second.data, whole.data)).toBeLessThan(1e-6);
  });

  it('refuses what cannot invert, naming the node and the cause', async () => {
    expect((await failure(VP, { steps: 10 }, { solver: 'ddim', start: 'noise' })).message).toMatch(/ascend.*start to auto or continue/);
    expect((await failure(VP, { steps: 10 }, { solver: 'ddim', eta: 0.5 })).message).toMatch(/deterministic: set eta to 0/);
    const pndm = await failure(VP, { steps: 10, solver: 'pndm' }, { solver: 'ddim' });
    expect(pndm).toMatchObject({ nodeId: 'sched', nodeType: 'Schedule' });
    expect(pndm.message).toMatch(/pndm cannot invert/);
    expect((await failure(VP, { steps: 10, solver: 'dpmpp_2m', grid: 'karras' }, { solver: 'dpmpp_2m' })).message).toMatch(/only the timestep spacing can be overridden \(set grid to config\)/);
    // The Schedule's own param names, not the fields behind them.
    expect((await failure(VP, { steps: 10, solver: 'ddim', final_sigmas: 'zero' }, { solver: 'ddim' })).message).toMatch(/\(set final_sigmas to config\)$/);
    const ancestral = await failure(VP, { steps: 10, solver: 'euler' }, { solver: 'euler_ancestral' });
    expect(ancestral.nodeId).toBe('inv');
    expect(ancestral.message).toMatch(/solver "euler_ancestral" cannot invert.*use one of ddim, euler, heun/);
  });
});

describe('Flip Sigmas (ComfyUI FlipSigmas) -> Sampler: unsampling along any schedule', () => {
  /** gen's latent inverted along `forward` flipped, then sampled back down `forward` by `solver`. */
  async function flipRoundTrip(model: string, forward: NodeSpec, solver: string) {
    const doc = withImage(
      model,
      [
        { ...forward, id: 'down' },
        { id: 'flip', type: 'FlipSigmas' },
        { id: 'inv', type: 'Sampler', params: { solver } },
        { id: 'back', type: 'Sampler', params: { solver, start: 'continue' } },
      ],
      [
        'model.model->down.model', 'model.model->flip.model', 'down.sigmas->flip.sigmas', 'model.model->inv.model', 'gen.latent->inv.latent',
        'flip.sigmas->inv.sigmas', 'model.model->back.model', 'inv.latent->back.latent', 'down.sigmas->back.sigmas',
      ],
    );
    const { result } = await engine.execute({ graph: doc });
    if (result?.status !== 'finished') throw new Error(`run ${result?.status}: ${result?.error?.message}`);
    const out = (id: string, port: string) => result.outputs.get(id)![port];
    return { image: out('gen', 'latent') as Tensor, inverted: out('inv', 'latent') as Tensor, back: out('back', 'latent') as Tensor, down: out('down', 'sigmas') as Sigmas, up: out('flip', 'sigmas') as Sigmas };
  }

  it('VP: the levels reversed, a last level 0 moved to 1e-4 and called at the lowest training step; Euler converges to the exact reverse flow', async () => {
    const p = createGaussianParams();
    const errors: number[] = [];
    for (const steps of [20, 80]) {
      const { image, inverted, down, up } = await flipRoundTrip(VP, { id: 'down', type: 'Schedule', params: { steps, solver: 'euler', grid: 'karras' } }, 'euler');
      const n = down.timesteps.length;
      expect(down.sigmas[n]).toBe(0);
      expect(up.sigmas).toEqual([1e-4, ...down.sigmas.slice(0, n).reverse()]);
      // Each level keeps its timestep; 1e-4 lies below the table's smallest level (0.0292): training step 0.
      expect(up.timesteps).toEqual([0, ...down.timesteps.slice(1).reverse()]);
      const [s0, s1] = [up.sigmas[0], up.sigmas[n]];
      const a = (s: number) => 1 / Math.sqrt(1 + s * s);
      const exact = transportExact(p, Float64Array.from(image.data), a(s0), s0 * a(s0), a(s1), s1 * a(s1));
      errors.push(relL2(inverted.data, exact));
    }
    expect(errors[1]).toBeLessThan(errors[0] / 2.5);
  });

  it("unsamples along a ComfyUI schedule (Align Your Steps) and samples back to the image", async () => {
    const ays = { id: 'down', type: 'ComfyCustomSchedule', params: { curve: 'align_your_steps', model_type: 'SD1', steps: 30 } };
    const { image, back, up } = await flipRoundTrip(VP, ays, 'dpmpp_2m');
    // ComfyUI writes its start level into float32 sigmas; a ComfyUI grid stays one (its timesteps ComfyUI's).
    expect(up.sigmas[0]).toBe(Math.fround(1e-4));
    expect(up.offGridTimesteps).toBe('comfyui');
    expect(up.sigmas.at(-1)).toBeCloseTo(14.615, 3);
    expect(relL2(back.data, image.data)).toBeLessThan(2e-2);
  });

  it('flow: the flow grid reversed from t = 1e-4, timesteps proportional to t as on the forward grid', async () => {
    const rf = 'embedded:gaussian-rf';
    const { image, back, down, up } = await flipRoundTrip(rf, { id: 'down', type: 'Schedule', params: { steps: 20, solver: 'rf_solver' } }, 'rf_solver');
    const n = down.timesteps.length;
    expect(up.sigmas).toEqual([1e-4, ...down.sigmas.slice(0, n).reverse()]);
    const unit = down.timesteps[0] / down.sigmas[0];
    for (let k = 0; k < n; k++) expect(up.timesteps[k]).toBeCloseTo(up.sigmas[k] * unit, 9);
    expect(relL2(back.data, image.data)).toBeLessThan(2e-3);
  });

  it('refuses a grid it cannot flip, naming the node', async () => {
    const refuse = async (model: string, schedule: Params) => {
      const doc = withImage(
        model,
        [
          { id: 'down', type: 'Schedule', params: schedule },
          { id: 'flip', type: 'FlipSigmas' },
        ],
        ['model.model->down.model', 'model.model->flip.model', 'down.sigmas->flip.sigmas'],
      );
      const { summary } = await engine.execute({ graph: doc });
      expect(summary.status).toBe('failed');
      expect(summary.error).toMatchObject({ nodeId: 'flip', nodeType: 'FlipSigmas' });
      return summary.error!.message;
    };
    expect(await refuse(VP, { steps: 10, direction: 'invert' })).toMatch(/already ascends/);
    // DDIM on a linspace grid of 7 steps steps to prev_t = t - 1000 // 7, off its own list (999 -> 857, not 832).
    expect(await refuse(VP, { steps: 7, solver: 'ddim', spacing: 'linspace' })).toMatch(/prev_t.*Schedule \(direction invert\)/);
  });
});
