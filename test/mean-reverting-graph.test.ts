/**
 * A mean-reverting (IR-SDE) model run from a graph: LoadModel on a folder whose scheduler config is
 * IRSDEScheduler, the degraded image into the Sampler's mean input, MR Sampler over IR-SDE's grid. The twin
 * network is linear, eps = 0.3 x - 0.2 mu + 0.001 t, so the run is checked against the same MRS walk computed
 * here from the pure pieces (grid, prior mu + sigma_inf z, x0 = mu + (x - mu - sbar eps) / a).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, GraphBuilder } from '../electron/engine/onnx/builder.ts';
import { seededDraws } from '../nodes/core/seeded-draws.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { writeNpy } from '../nodes/core/io/npy.ts';
import { irsdeLevelAt, irsdeSigmas, irsdeTable, irsdeTimeAt } from '../nodes/sampling/irsde.ts';
import { createMrs, mrCoefficients, type MrsOptions } from '../nodes/sampling/mrs.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import type { DenoiseFn } from '../nodes/sampling/solver.ts';
import { createTestEngine, graph, tempDir, testCacheDir } from './helpers/engine.ts';
import { relL2 } from './sampling-fake-model.ts';

const engine = createTestEngine();
afterAll(() => engine.dispose());

const DIMS = [1, 3, 8, 8];
const CONFIG = { _class_name: 'IRSDEScheduler', max_sigma: 50, T: 100, schedule: 'cosine', eps: 0.005, lambda_min: -5 };

/** unet/model.onnx: inputs sample, cond (mu), timestep float32 [batch]; eps = 0.3 sample - 0.2 cond + 0.001 t. */
function writeTwin(config: Record<string, unknown> = CONFIG, withText = false): string {
  const g = new GraphBuilder('irsde-twin');
  const x = g.input('sample', 'float32', ['batch', 3, 8, 8]);
  const mu = g.input('cond', 'float32', ['batch', 3, 8, 8]);
  const t = g.input('timestep', 'float32', ['batch']);
  let tb = g.op('Reshape', [g.op('Mul', [t, g.constFloat([0.001], [])]), g.constInt64([-1, 1, 1, 1])]);
  // A text context variant: an input the network reads (times 0), fed from the conditioning.
  if (withText) tb = g.op('Add', [tb, g.op('Mul', [g.op('ReduceMean', [g.input('text', 'float32', ['batch', 5])], { keepdims: attr.int(0) }), g.constFloat([0], [])])]);
  const out = g.op('Add', [g.op('Sub', [g.op('Mul', [x, g.constFloat([0.3], [])]), g.op('Mul', [mu, g.constFloat([0.2], [])])]), tb], {}, 'out_sample');
  g.output(out, 'float32', ['batch', 3, 8, 8]);
  const folder = tempDir('irsde-twin-', testCacheDir());
  fs.mkdirSync(path.join(folder, 'unet'));
  fs.mkdirSync(path.join(folder, 'scheduler'));
  fs.writeFileSync(path.join(folder, 'unet', 'model.onnx'), g.toBytes());
  fs.writeFileSync(path.join(folder, 'model_index.json'), JSON.stringify({ _class_name: 'IRSDEPipeline', unet: ['diffusers', 'OnnxRuntimeModel'], scheduler: ['flowstudio', 'IRSDEScheduler'] }));
  fs.writeFileSync(path.join(folder, 'scheduler', 'scheduler_config.json'), JSON.stringify(config));
  return folder;
}

const muValues = Float32Array.from({ length: 192 }, (_, k) => 0.5 * Math.sin(k / 7) - 0.1);
function writeMean(): string {
  const file = path.join(tempDir('irsde-mu-', testCacheDir()), 'mu.npy');
  fs.writeFileSync(file, writeNpy(new Tensor(DIMS, muValues)));
  return file;
}

async function runGraph(folder: string, sampler: Record<string, string | number | boolean>, withMean = true) {
  const nodes: { id: string; type: string; params: Record<string, string | number | boolean> }[] = [
    { id: 'model', type: 'LoadModel', params: { model: folder } },
    { id: 'latent', type: 'EmptyLatent', params: { channels: 3, height: 8, width: 8 } },
    { id: 'mu', type: 'LoadLatent', params: { path: writeMean() } },
    { id: 'sampler', type: 'Sampler', params: { solver: 'mrs', steps: 12, seed: 5, ...sampler } },
  ];
  const edges = ['model.model->sampler.model', 'latent.latent->sampler.latent', ...(withMean ? ['mu.latent->sampler.mean'] : [])];
  const r = await engine.execute({ graph: graph(nodes, edges) });
  return { summary: r.summary, latent: r.result?.outputs.get('sampler')?.latent as Tensor | undefined };
}

/** The same run from the pure pieces (SDE: step noise from the seed's stream after the prior draw). */
async function reference(steps: number, order: number, more: Pick<MrsOptions, 'solverType' | 'parameterization'> = {}): Promise<Float32Array> {
  const table = irsdeTable(CONFIG);
  const sigmas = irsdeSigmas(table, { steps, lambdaMin: -5 });
  const mu = new Tensor(DIMS, muValues);
  const draws = seededDraws('flowstudio', 5, 192);
  const z = draws.initial;
  const x = new Tensor(DIMS, Float32Array.from(z, (v, k) => muValues[k] + table.sigmaInf * v));
  const model: DenoiseFn = async (xt, level) => {
    const eps = new Tensor(DIMS, Float32Array.from(xt.data, (v, k) => 0.3 * v - 0.2 * muValues[k] + 0.001 * Math.fround(level.timestep)));
    const { a, sbar } = mrCoefficients(level.sigma, table.sigmaInf);
    const denoised = new Tensor(DIMS, Float32Array.from(xt.data, (v, k) => muValues[k] + (v - muValues[k] - sbar * eps.data[k]) / a));
    return { denoised, eps, derivative: eps };
  };
  const noise = (dims: readonly number[]) => new Tensor(dims, draws.next(192));
  return (await runSampler({ solver: createMrs({ order, mu, sigmaInf: table.sigmaInf, ...more }), sigmas, x, model, noise })).x.data;
}

describe('mean-reverting (IR-SDE) models in a graph', () => {
  it('runs the MR Sampler from mu + sigma_inf z over IR-SDE\'s grid, feeding mu and the training time', async () => {
    const folder = writeTwin();
    for (const order of [1, 2]) {
      const { summary, latent } = await runGraph(folder, { mrs_order: order });
      expect(summary.error).toBeUndefined();
      expect(relL2(latent!.data, await reference(12, order))).toBeLessThan(1e-5);
    }
    // auto picks the MR Sampler too.
    const auto = await runGraph(folder, { solver: 'auto' });
    expect(relL2(auto.latent!.data, await reference(12, 2))).toBeLessThan(1e-5);
  });

  it('the SDE solver and the noise parameterization: the same walks, step noise from the seed after the prior draw', async () => {
    const folder = writeTwin();
    for (const [type, param, order] of [['sde', 'data', 1], ['sde', 'data', 2], ['sde', 'noise', 2], ['ode', 'noise', 3]] as const) {
      const { summary, latent } = await runGraph(folder, { mrs_order: order, mrs_solver_type: type, mrs_parameterization: param });
      expect(summary.error).toBeUndefined();
      expect(relL2(latent!.data, await reference(12, order, { solverType: type, parameterization: param }))).toBeLessThan(1e-5);
    }
    // From the same start (continue: no prior draw) the seed reaches an SDE run only through its step noise;
    // an ODE run does not depend on it at all.
    const a = await runGraph(folder, { mrs_solver_type: 'sde', start: 'continue' });
    const b = await runGraph(folder, { mrs_solver_type: 'sde', start: 'continue', seed: 6 });
    expect(relL2(a.latent!.data, b.latent!.data)).toBeGreaterThan(1e-3);
    const odeA = await runGraph(folder, { start: 'continue' });
    const odeB = await runGraph(folder, { start: 'continue', seed: 6 });
    expect(Array.from(odeA.latent!.data)).toEqual(Array.from(odeB.latent!.data));
    const three = await runGraph(folder, { mrs_solver_type: 'sde', mrs_order: 3 });
    expect(three.summary.status).toBe('failed');
    expect(three.summary.error?.message).toMatch(/orders 1 and 2/);
  });

  it('a Schedule node builds the same grid, and SplitSigmas halves chain into one run', async () => {
    const folder = writeTwin();
    const mean = writeMean();
    const nodes: { id: string; type: string; params: Record<string, string | number | boolean> }[] = [
      { id: 'model', type: 'LoadModel', params: { model: folder } },
      { id: 'latent', type: 'EmptyLatent', params: { channels: 3, height: 8, width: 8 } },
      { id: 'mu', type: 'LoadLatent', params: { path: mean } },
      { id: 'sched', type: 'Schedule', params: { steps: 12, solver: 'auto' } },
      { id: 'split', type: 'SplitSigmas', params: { mode: 'at_step', step: 5 } },
      { id: 'head', type: 'Sampler', params: { solver: 'mrs', mrs_order: 1, seed: 5 } },
      { id: 'tail', type: 'Sampler', params: { solver: 'mrs', mrs_order: 1, start: 'continue' } },
    ];
    const edges = [
      'model.model->sched.model',
      'sched.sigmas->split.sigmas',
      'split.high->head.sigmas',
      'split.low->tail.sigmas',
      'model.model->head.model',
      'model.model->tail.model',
      'latent.latent->head.latent',
      'head.latent->tail.latent',
      'mu.latent->head.mean',
      'mu.latent->tail.mean',
    ];
    const r = await engine.execute({ graph: graph(nodes, edges) });
    expect(r.summary.error).toBeUndefined();
    // Order 1 keeps no history, so the split run equals one unsplit run.
    expect(relL2((r.result!.outputs.get('tail')!.latent as Tensor).data, await reference(12, 1))).toBeLessThan(1e-5);
    const inverted = await engine.execute({
      graph: graph([{ id: 'model', type: 'LoadModel', params: { model: folder } }, { id: 'sched', type: 'Schedule', params: { direction: 'invert' } }], ['model.model->sched.model']),
    });
    expect(inverted.summary.error!.message).toMatch(/cannot be inverted/);
    // A grid built on another IR-SDE model (another sigma_inf) is refused, not sampled with the wrong levels.
    const other = writeTwin({ ...CONFIG, max_sigma: 10 });
    const mixed = await engine.execute({
      graph: graph(
        [
          { id: 'a', type: 'LoadModel', params: { model: other } },
          { id: 'b', type: 'LoadModel', params: { model: folder } },
          { id: 'latent', type: 'EmptyLatent', params: { channels: 3, height: 8, width: 8 } },
          { id: 'mu', type: 'LoadLatent', params: { path: mean } },
          { id: 'sched', type: 'Schedule', params: { steps: 12 } },
          { id: 'sampler', type: 'Sampler', params: { solver: 'mrs' } },
        ],
        ['a.model->sched.model', 'sched.sigmas->sampler.sigmas', 'b.model->sampler.model', 'latent.latent->sampler.latent', 'mu.latent->sampler.mean'],
      ),
    });
    expect(mixed.summary.error).toMatchObject({ nodeId: 'sampler' });
    expect(mixed.summary.error!.message).toMatch(/not this model's IR-SDE grid/);
  });

  it('sigma edits give new levels IR-SDE times (not a VP table\'s), so the MR Sampler walks the edited grid', async () => {
    const table = irsdeTable(CONFIG);
    for (const t of [0, 0.25, 17.5, 63, 99.9, 100]) expect(irsdeTimeAt(table, irsdeLevelAt(table, t))).toBeCloseTo(t, 10);
    expect(() => irsdeTimeAt(table, irsdeLevelAt(table, 100) * 2)).toThrow(/outside this model's levels/);
    const folder = writeTwin();
    const nodes: { id: string; type: string; params: Record<string, string | number | boolean> }[] = [
      { id: 'model', type: 'LoadModel', params: { model: folder } },
      { id: 'latent', type: 'EmptyLatent', params: { channels: 3, height: 8, width: 8 } },
      { id: 'mu', type: 'LoadLatent', params: { path: writeMean() } },
      { id: 'sched', type: 'Schedule', params: { steps: 6 } },
      { id: 'extend', type: 'ExtendIntermediateSigmas', params: { steps: 2, end_at_sigma: 0 } },
      { id: 'sampler', type: 'Sampler', params: { solver: 'mrs', mrs_order: 2, seed: 5 } },
    ];
    const edges = ['model.model->sched.model', 'sched.sigmas->extend.sigmas', 'model.model->extend.model', 'extend.sigmas->sampler.sigmas', 'model.model->sampler.model', 'latent.latent->sampler.latent', 'mu.latent->sampler.mean'];
    const r = await engine.execute({ graph: graph(nodes, edges) });
    expect(r.summary.error).toBeUndefined();
    const grid = r.result!.outputs.get('extend')!.sigmas as { sigmas: number[]; timesteps: number[] };
    // Each step split in two: 12 steps, each level at its own time's level.
    expect(grid.timesteps).toHaveLength(12);
    grid.timesteps.forEach((t, i) => expect(grid.sigmas[i] / irsdeLevelAt(table, t)).toBeCloseTo(1, 9));
    // The new levels' times lie between their neighbours' (a VP table's timesteps would be in 0..999).
    for (let i = 1; i < 12; i += 2) expect(grid.timesteps[i]).toBeLessThan(grid.timesteps[i - 1]);
    expect(Math.max(...grid.timesteps)).toBeLessThanOrEqual(100);
  });

  it('refuses what it cannot run, naming the port or param', async () => {
    const folder = writeTwin();
    const cases: [Record<string, string | number | boolean>, boolean, RegExp][] = [
      [{}, false, /needs the degraded image mu: connect it to mean/],
      [{ solver: 'ddim' }, true, /runs with the MR Sampler: set solver to mrs or auto/],
      [{ start: 'img2img', denoise: 0.5 }, true, /starts from noise around mu or continues/],
    ];
    for (const [params, withMean, cause] of cases) {
      const { summary } = await runGraph(folder, params, withMean);
      expect(summary.status).toBe('failed');
      expect(summary.error!.nodeId).toBe('sampler');
      expect(summary.error!.message).toMatch(cause);
    }
    const noMuInput = await runGraph(writeTwin({ ...CONFIG, mu_input: 'lq' }), {});
    expect(noMuInput.summary.error!.message).toMatch(/has no input "lq" for the degraded image mu \(inputs: sample, cond, timestep\)/);
    const muIsTime = await runGraph(writeTwin({ ...CONFIG, mu_input: 'timestep' }), {});
    expect(muIsTime.summary.error!.message).toMatch(/mu_input "timestep" is the network's timestep input/);
    // A network input no conditioning gives, named before the first model call.
    const noText = await runGraph(writeTwin(CONFIG, true), {});
    expect(noText.summary.error!.message).toMatch(/missing input "text" \[batch, 5\]: the model takes it besides its sample and timestep, and no conditioning is connected/);
    const badSchedule = await runGraph(writeTwin({ ...CONFIG, schedule: 'sigmoid' }), {});
    expect(badSchedule.summary.error!.message).toMatch(/unknown schedule "sigmoid"/);
    // The mean input on an ordinary model is a mistake, said so.
    const plain = await engine.execute({
      graph: graph(
        [
          { id: 'model', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' } },
          { id: 'latent', type: 'EmptyLatent' },
          { id: 'sampler', type: 'Sampler', params: { steps: 2 } },
        ],
        ['model.model->sampler.model', 'latent.latent->sampler.latent', 'latent.latent->sampler.mean'],
      ),
    });
    expect(plain.summary.error!.message).toMatch(/mean input is for mean-reverting \(IR-SDE\) models/);
  });
});
