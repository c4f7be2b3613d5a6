/**
 * Model Sampling: each override must give exactly the run a model folder whose scheduler_config.json says
 * the same thing gives, through every node downstream; and refuse what does not apply, naming the node.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../nodes/core/tensor.ts';
import type { ModelHandle } from '../nodes/core/values.ts';
import { createTestEngine, graph, modelWithConfig } from './helpers/engine.ts';

const engine = createTestEngine();
afterAll(() => engine.dispose());

type Params = Record<string, string | number | boolean>;
const VP = 'embedded:gaussian-vp';
const RF = 'embedded:gaussian-rf';

/** LoadModel (-> Model Sampling) -> Schedule -> Sampler; returns the final latent. */
async function sample(model: string, sampling: Params | undefined, sampler: Params, latentToSchedule = false) {
  const nodes: { id: string; type: string; params?: Params }[] = [
    { id: 'model', type: 'LoadModel', params: { model } },
    { id: 'latent', type: 'EmptyLatent' },
    { id: 'sched', type: 'Schedule', params: { steps: 10, solver: String(sampler.solver) } },
    { id: 'sampler', type: 'Sampler', params: { seed: 9, ...sampler } },
  ];
  const from = sampling ? 'ms' : 'model';
  if (sampling) nodes.push({ id: 'ms', type: 'ModelSampling', params: sampling });
  const edges = [
    ...(sampling ? ['model.model->ms.model'] : []),
    `${from}.model->sched.model`,
    `${from}.model->sampler.model`,
    'latent.latent->sampler.latent',
    'sched.sigmas->sampler.sigmas',
    ...(latentToSchedule ? ['latent.latent->sched.latent'] : []),
  ];
  const { summary, result } = await engine.execute({ graph: graph(nodes, edges) });
  return { summary, latent: result?.outputs.get('sampler')?.latent as Tensor | undefined, handle: result?.outputs.get(from)?.model as ModelHandle | undefined };
}

async function same(base: string, sampling: Params, edit: (c: Record<string, unknown>) => Record<string, unknown>, sampler: Params, latentToSchedule = false) {
  const overridden = await sample(base, sampling, sampler, latentToSchedule);
  const edited = await sample(await modelWithConfig(engine, base, edit), undefined, sampler, latentToSchedule);
  expect(overridden.summary.error).toBeUndefined();
  expect(edited.summary.error).toBeUndefined();
  expect(Array.from(overridden.latent!.data)).toEqual(Array.from(edited.latent!.data));
  return overridden;
}

describe('Model Sampling', () => {
  it('VP: prediction type, zero-SNR betas and trailing spacing act as the same keys in scheduler_config.json', async () => {
    const sampling = { prediction_type: 'v_prediction', zero_snr: 'on', timestep_spacing: 'trailing' };
    const edit = (c: Record<string, unknown>) => ({ ...c, prediction_type: 'v_prediction', rescale_betas_zero_snr: true, timestep_spacing: 'trailing' });
    for (const solver of ['ddim', 'dpmpp_2m', 'euler']) {
      const r = await same(VP, sampling, edit, { solver });
      // ...and it changed the run.
      const plain = await sample(VP, undefined, { solver });
      expect(Array.from(r.latent!.data)).not.toEqual(Array.from(plain.latent!.data));
    }
  });

  it('VP: steps offset, x0 clipping and thresholding', async () => {
    await same(VP, { steps_offset: 0 }, (c) => ({ ...c, steps_offset: 0 }), { solver: 'ddim' });
    await same(VP, { clip_sample: 'on' }, (c) => ({ ...c, clip_sample: true }), { solver: 'ddim' });
    await same(VP, { thresholding: 'on' }, (c) => ({ ...c, thresholding: true }), { solver: 'dpmpp_2m' });
  });

  it('VP: beta schedule, start and end act as the same keys; an explicit schedule drops trained_betas', async () => {
    const sampling = { beta_schedule: 'linear', beta_start: 0.0002, beta_end: 0.015 };
    for (const solver of ['ddim', 'dpmpp_2m']) {
      const r = await same(VP, sampling, (c) => ({ ...c, beta_schedule: 'linear', beta_start: 0.0002, beta_end: 0.015 }), { solver });
      const plain = await sample(VP, undefined, { solver });
      expect(Array.from(r.latent!.data)).not.toEqual(Array.from(plain.latent!.data));
    }
    // A folder that lists its betas (trained_betas wins over beta_schedule in diffusers): the override replaces them.
    const listed = await modelWithConfig(engine, VP, (c) => ({ ...c, trained_betas: Array.from({ length: 1000 }, (_, i) => 0.0001 + (0.02 - 0.0001) * (i / 999)) }));
    const overridden = await sample(listed, { beta_schedule: 'squaredcos_cap_v2' }, { solver: 'ddim' });
    const cosine = await sample(await modelWithConfig(engine, VP, (c) => ({ ...c, beta_schedule: 'squaredcos_cap_v2' })), undefined, { solver: 'ddim' });
    expect(Array.from(overridden.latent!.data)).toEqual(Array.from(cosine.latent!.data));
  });

  it('flow: dynamic shifting switched on acts as use_dynamic_shifting in the config (mu from the latent)', async () => {
    const r = await same(RF, { dynamic_shift: 'on' }, (c) => ({ ...c, use_dynamic_shifting: true }), { solver: 'flow_euler' }, true);
    const plain = await sample(RF, undefined, { solver: 'flow_euler' }, true);
    expect(Array.from(r.latent!.data)).not.toEqual(Array.from(plain.latent!.data));
    await same(RF, { dynamic_shift: 'off' }, (c) => ({ ...c, use_dynamic_shifting: false }), { solver: 'flow_euler' }, true);
  });

  it('flow: a static shift replaces the config\'s; a prediction type overrides even a FlowMatch config', async () => {
    await same(RF, { shift: 3 }, (c) => ({ ...c, shift: 3, use_dynamic_shifting: false }), { solver: 'flow_euler' });
    const x0 = await sample(RF, { prediction_type: 'sample' }, { solver: 'flow_euler' });
    expect(x0.summary.error).toBeUndefined();
    expect(x0.handle!.predictionType).toBe('sample');
    const velocity = await sample(RF, undefined, { solver: 'flow_euler' });
    expect(Array.from(x0.latent!.data)).not.toEqual(Array.from(velocity.latent!.data));
  });

  it('refuses what does not apply to the model, naming the node', async () => {
    for (const [model, sampling, cause] of [
      [VP, { prediction_type: 'flow' }, /needs a flow-matching model/],
      [VP, { shift: 3 }, /shift applies to flow models/],
      [RF, { zero_snr: 'on' }, /applies to VP/],
      [RF, { prediction_type: 'v_prediction' }, /needs a VP model/],
      [RF, { beta_schedule: 'linear' }, /beta_schedule applies to VP/],
      [VP, { dynamic_shift: 'on' }, /dynamic shift applies to flow models/],
      [RF, { shift: 3, dynamic_shift: 'on' }, /exclude each other/],
      [VP, { beta_start: 0.02, beta_end: 0.01 }, /beta start \(0\.02\) must be below beta end \(0\.01\)/],
    ] as const) {
      const { summary } = await sample(model, sampling, { solver: 'euler' });
      expect(summary.status).toBe('failed');
      expect(summary.error).toMatchObject({ nodeId: 'ms', nodeType: 'ModelSampling' });
      expect(summary.error!.message).toMatch(cause);
    }
  });
});
