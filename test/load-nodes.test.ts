/**
 * LoadNoise and LoadConditioning: the way to run a diffusers-ONNX folder on exactly the inputs another
 * tool used (its initial latents, its text embeddings), through the engine and the CLI.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../electron/engine/engine.ts';
import { attr, GraphBuilder } from '../electron/engine/onnx/builder.ts';
import { writeNpy } from '../nodes/core/io/npy.ts';
import { randomNormal } from '../nodes/core/random.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { createTestEngine, graph, tempDir } from './helpers/engine.ts';

let dir: string;
let engine: Engine;
let twin: string;

/**
 * A tiny SD-layout twin: unet inputs sample [batch, 4, 8, 8], timestep int64 [1] and
 * encoder_hidden_states [batch, 7, 16]; eps = 0.1 * sample + mean(encoder_hidden_states) per sample.
 */
async function writeTwin(folder: string): Promise<string> {
  const g = new GraphBuilder();
  const sample = g.input('sample', 'float32', ['batch', 4, 8, 8]);
  g.input('timestep', 'int64', [1]);
  const ehs = g.input('encoder_hidden_states', 'float32', ['batch', 7, 16]);
  const mean = g.op('ReduceMean', [ehs], { axes: attr.ints([1, 2]), keepdims: attr.int(1) });
  const shift = g.op('Unsqueeze', [mean, g.constInt64([3])]);
  g.op('Add', [g.op('Mul', [sample, g.constFloat([0.1], [])]), shift], {}, 'out_sample');
  g.output('out_sample', 'float32', ['batch', 4, 8, 8]);
  await fs.mkdir(path.join(folder, 'unet'), { recursive: true });
  await fs.mkdir(path.join(folder, 'scheduler'), { recursive: true });
  await fs.writeFile(path.join(folder, 'unet', 'model.onnx'), g.toBytes());
  await fs.writeFile(path.join(folder, 'model_index.json'), JSON.stringify({ _class_name: 'OnnxStableDiffusionPipeline' }));
  await fs.writeFile(
    path.join(folder, 'scheduler', 'scheduler_config.json'),
    JSON.stringify({
      _class_name: 'DDIMScheduler',
      beta_schedule: 'scaled_linear',
      beta_start: 0.00085,
      beta_end: 0.012,
      num_train_timesteps: 1000,
      clip_sample: false,
      set_alpha_to_one: false,
      steps_offset: 1,
      prediction_type: 'epsilon',
    }),
  );
  return folder;
}

async function npy(name: string, t: Tensor): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, writeNpy(t));
  return file;
}

function full(dims: number[], value: number): Tensor {
  return Tensor.full(dims, value);
}

beforeAll(async () => {
  dir = tempDir('fs-load-nodes-');
  twin = await writeTwin(path.join(dir, 'sd-twin'));
  engine = createTestEngine({ readRoots: [dir] });
});
afterAll(async () => {
  await engine.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('LoadNoise', () => {
  it('feeds a Sampler exactly the noise in the file: the same run as RandomNoise with the seed that drew it', async () => {
    const dims = [1, 3, 16, 16];
    const file = await npy('noise.npy', randomNormal(dims, 77));
    const run = async (noiseNode: { id: string; type: string; params: Record<string, string | number> }) => {
      const doc = graph(
        [
          { id: 'model', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' } },
          { id: 'latent', type: 'EmptyLatent' },
          noiseNode,
          { id: 'sampler', type: 'Sampler', params: { solver: 'ddim', steps: 8, seed: 5 } },
        ],
        ['model.model->sampler.model', 'latent.latent->sampler.latent', 'noise.noise->sampler.noise'],
      );
      const r = await engine.execute({ graph: doc });
      expect(r.summary.status).toBe('finished');
      return r.result!.outputs.get('sampler')!.latent as Tensor;
    };
    const fromFile = await run({ id: 'noise', type: 'LoadNoise', params: { path: file } });
    const seeded = await run({ id: 'noise', type: 'RandomNoise', params: { seed: 77 } });
    const other = await run({ id: 'noise', type: 'RandomNoise', params: { seed: 78 } });
    expect([...fromFile.data]).toEqual([...seeded.data]);
    expect([...fromFile.data]).not.toEqual([...other.data]);
  });

  it('keeps the stored shape, and a file that fits neither layout fails naming the noise input', async () => {
    const file = await npy('bad-noise.npy', full([2, 5], 0));
    const doc = graph(
      [
        { id: 'model', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' } },
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'noise', type: 'LoadNoise', params: { path: file } },
        { id: 'sampler', type: 'Sampler', params: { solver: 'ddim', steps: 2 } },
      ],
      ['model.model->sampler.model', 'latent.latent->sampler.latent', 'noise.noise->sampler.noise'],
    );
    const r = await engine.run({ graph: doc });
    expect(r.status).toBe('failed');
    expect(r.error?.message).toMatch(/input "noise": noise shape \[2, 5\] fits neither the latent shape/);
  });
});

describe('non-finite values in a loaded file', () => {
  it('are refused by the loader naming the file and the element: NaN anywhere, infinities in latents and noise', async () => {
    const bad = (k: number, v: number) => {
      const t = full([1, 7, 16], 0.25);
      t.data[k] = v;
      return t;
    };
    const nan = await npy('nan.npy', bad(5, Number.NaN));
    const inf = await npy('inf.npy', bad(9, Number.NEGATIVE_INFINITY));
    const load = async (type: string, file: string) => {
      const params: Record<string, string> = type === 'LoadConditioning' ? { path: file, input: 'encoder_hidden_states' } : { path: file };
      return (await engine.run({ graph: graph([{ id: 'n', type, params }], []) })).error?.message;
    };
    for (const [type, what] of [['LoadLatent', 'latent'], ['LoadNoise', 'noise']]) {
      expect(await load(type, nan)).toBe(`Cannot load ${what} from "${nan}": element 5 of [1, 7, 16] is NaN (the file must hold finite numbers)`);
      expect(await load(type, inf)).toMatch(/element 9 of \[1, 7, 16\] is -Infinity \(the file must hold finite numbers\)/);
    }
    // A conditioning may hold -inf (an additive attention mask), never NaN.
    expect(await load('LoadConditioning', nan)).toBe(`Cannot load model input "encoder_hidden_states" from "${nan}": element 5 of [1, 7, 16] is NaN`);
    expect(await load('LoadConditioning', inf)).toBeUndefined();
  });
});

describe('LoadModel', () => {
  it('refuses a pipeline class whose conventions FlowStudio does not reproduce, naming the node and the reason', async () => {
    const folder = path.join(dir, 'glm-twin');
    await fs.cp(twin, folder, { recursive: true });
    await fs.writeFile(path.join(folder, 'model_index.json'), JSON.stringify({ _class_name: 'GlmImagePipeline' }));
    const r = await engine.run({ graph: graph([{ id: 'model', type: 'LoadModel', params: { model: folder } }], []) });
    expect(r.status).toBe('failed');
    expect(r.error?.nodeId).toBe('model');
    expect(r.error?.message).toMatch(/GlmImagePipeline is not supported: it feeds the transformer t - 1/);
    // Declaring the model's convention vouches for it.
    await fs.writeFile(path.join(folder, 'model_index.json'), JSON.stringify({ _class_name: 'GlmImagePipeline', flowstudio: { timestep_units: 'scheduler' } }));
    const ok = await engine.run({ graph: graph([{ id: 'model', type: 'LoadModel', params: { model: folder } }], []) });
    expect(ok.error?.message).toBeUndefined();
  });
});

describe('LoadConditioning', () => {
  const sdGraph = (conditioning: { id: string; params: Record<string, string> }[], extraEdges: string[] = []) =>
    graph(
      [
        { id: 'model', type: 'LoadModel', params: { model: twin } },
        { id: 'latent', type: 'EmptyLatent', params: { batch: 1, channels: 4, height: 8, width: 8 } },
        ...conditioning.map((c) => ({ ...c, type: 'LoadConditioning' })),
        { id: 'sampler', type: 'Sampler', params: { solver: 'ddim', steps: 4, seed: 3 } },
      ],
      ['model.model->sampler.model', 'latent.latent->sampler.latent', ...extraEdges],
    );

  it('a model with an encoder_hidden_states input cannot run without it; the error names the input', async () => {
    const r = await engine.run({ graph: sdGraph([]) });
    expect(r.status).toBe('failed');
    expect(r.error?.nodeId).toBe('sampler');
    expect(r.error?.message).toMatch(/missing input "encoder_hidden_states"/);
  });

  it('reaches the model: the run uses the loaded embeddings (eps shifts by their mean)', async () => {
    const zeros = await npy('ehs-0.npy', full([1, 7, 16], 0));
    const ones = await npy('ehs-1.npy', full([1, 7, 16], 1));
    const run = async (file: string) => {
      const r = await engine.execute({ graph: sdGraph([{ id: 'cond', params: { path: file } }], ['cond.conditioning->sampler.conditioning']) });
      expect(r.summary.status).toBe('finished');
      return (r.result!.outputs.get('sampler')!.latent as Tensor).data;
    };
    const a = await run(zeros);
    const b = await run(ones);
    // Same noise, eps larger by 1 everywhere: every element moves, and by the same amount.
    const diff = Array.from(a, (v, i) => b[i] - v);
    expect(Math.abs(diff[0])).toBeGreaterThan(1e-3);
    for (const d of diff) expect(d).toBeCloseTo(diff[0], 4);
  });

  it('chains inputs through base; a repeated name, a bad name and a wrong shape fail clearly', async () => {
    const ehs = await npy('ehs.npy', full([1, 7, 16], 0.5));
    const extra = await npy('extra.npy', full([1, 3], 0));
    const chained = await engine.execute({
      graph: sdGraph(
        [
          { id: 'c1', params: { input: 'encoder_hidden_states', path: ehs } },
          { id: 'c2', params: { input: 'text_embeds', path: extra } },
        ],
        ['c1.conditioning->c2.base'],
      ),
      targets: ['c2'],
    });
    expect(Object.keys((chained.result!.outputs.get('c2')!.conditioning as { feeds: object }).feeds)).toEqual(['encoder_hidden_states', 'text_embeds']);

    const twice = await engine.run({
      graph: sdGraph([{ id: 'c1', params: { path: ehs } }, { id: 'c2', params: { path: ehs } }], ['c1.conditioning->c2.base']),
      targets: ['c2'],
    });
    expect(twice.error?.message).toMatch(/input "base": model input "encoder_hidden_states" is already set/);

    const badName = await engine.run({ graph: sdGraph([{ id: 'c1', params: { input: 'two words', path: ehs } }]), targets: ['c1'] });
    expect(badName.error?.message).toMatch(/"two words" is not a model input name/);

    const wrong = await npy('ehs-wrong.npy', full([1, 5, 16], 0));
    const r = await engine.run({ graph: sdGraph([{ id: 'cond', params: { path: wrong } }], ['cond.conditioning->sampler.conditioning']) });
    expect(r.status).toBe('failed');
    expect(r.error?.message).toMatch(/conditioning input "encoder_hidden_states" \[1, 5, 16\] does not fit the model input.s shape \[batch, 7, 16\]/);
  });
});
