/**
 * SCMScheduler (Sana Sprint) as consistency sampling on flow levels (nodes/sampling/scm.ts). Its grid is pinned
 * to values torch itself printed for diffusers' set_timesteps and the pipeline's sin s / (cos s + sin s); the
 * whole pipeline loop is compared with diffusers in the parity suite and with a TrigFlow loop written out in
 * test/model-twins.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { paramDefaults } from '../nodes/core/params.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { createGaussianParams, seededNormals } from '../nodes/sampling/gaussian.ts';
import { buildSigmas, defaultSolverFor } from '../nodes/sampling/schedules.ts';
import { scmSigmas, scmTrigTimesteps, trigToFlowTime } from '../nodes/sampling/scm.ts';
import { Sampler } from '../nodes/sampler.ts';
import { sigmaSpace } from '../nodes/sampling/model-time.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import { fakeFlowModel, relL2, SD_VP_DDIM } from './sampling-fake-model.ts';

const SCM = { _class_name: 'SCMScheduler', num_train_timesteps: 1000, prediction_type: 'trigflow', sigma_data: 0.5 };
const SPRINT = { _class_name: 'SanaSprintPipeline' };

describe('SCMScheduler grid', () => {
  // torch 1.13: SCMScheduler().set_timesteps(n, intermediate_timesteps=...) and the pipeline's flow time.
  it('TrigFlow times as set_timesteps makes them (float32), and their flow levels bit for bit', () => {
    expect(scmTrigTimesteps(2)).toEqual([1.5707999467849731, 1.2999999523162842, 0]);
    expect(scmTrigTimesteps(4)).toEqual([1.5707999467849731, 1.1780999898910522, 0.7853999733924866, 0.3926999866962433, 0]);
    expect(scmTrigTimesteps(1)).toEqual([1.5707999467849731, 0]);
    expect([1.5707999467849731, 1.2999999523162842, 1.1780999898910522, 0.7853999733924866, 0.3926999866962433].map(trigToFlowTime)).toEqual([
      1.000003695487976, 0.7827079892158508, 0.7071083784103394, 0.5000008940696716, 0.29289373755455017,
    ]);
  });

  it('levels walk 1 where the flow time is past 1 (float32 1.5708 > pi/2); the model timestep keeps it', () => {
    const s = buildSigmas(SCM, SPRINT, 2, 'scm');
    expect(s.space).toBe('flow');
    expect(s.origin).toBe('SCMScheduler');
    expect(s.sigmas).toEqual([1, 0.7827079892158508, 0]);
    expect(s.timesteps).toEqual([1.000003695487976, 0.7827079892158508]);
    // 'scheduler' units would feed tau * 1000.
    expect(scmSigmas(SCM, 2, 'scheduler').timesteps[1]).toBeCloseTo(782.708, 3);
  });

  it('the intermediate time applies at 2 steps only; custom levels replace the TrigFlow grid', () => {
    expect(scmTrigTimesteps(2, { intermediateTimestep: null })).toEqual([1.5707999467849731, 0.7853999733924866, 0]);
    expect(scmTrigTimesteps(3)).toHaveLength(4);
    const custom = buildSigmas(SCM, SPRINT, 2, 'scm', { grid: 'custom', customSigmas: [1, 0.5, 0] });
    expect(custom.sigmas).toEqual([1, 0.5, 0]);
    expect(custom.timesteps).toEqual([1, 0.5]);
  });

  it('refuses what SCM has no meaning for, naming it', () => {
    expect(() => buildSigmas(SCM, SPRINT, 4, 'scm', { grid: 'karras' })).toThrow(/no karras variant/);
    expect(() => buildSigmas(SCM, SPRINT, 4, 'scm', { shift: 3 })).toThrow(/take no shift/);
    expect(() => scmSigmas({ ...SCM, prediction_type: 'epsilon' }, 2, 'fraction')).toThrow(/prediction_type/);
    expect(() => scmTrigTimesteps(2, { maxTimestep: 2 })).toThrow(/max_timesteps/);
    expect(() => scmTrigTimesteps(2, { intermediateTimestep: 1.6 })).toThrow(/intermediate_timesteps/);
    expect(() => buildSigmas(SD_VP_DDIM, {}, 4, 'scm')).toThrow(/flow models only/);
  });

  it("an SCMScheduler config samples with scm by default and is a flow model whatever its pipeline", () => {
    expect(defaultSolverFor(SCM, 'flow')).toBe('scm');
    expect(sigmaSpace({}, SCM)).toBe('flow');
    expect(sigmaSpace({ _class_name: 'MyPipeline' }, SCM)).toBe('flow');
  });
});

describe('FlowMatchLCMScheduler configs', () => {
  const LCM_FLOW = { _class_name: 'FlowMatchLCMScheduler', num_train_timesteps: 1000, shift: 3 };
  it("sample with consistency on FlowMatch Euler's grid; scale-wise generation (scale_factors) is refused", () => {
    expect(defaultSolverFor(LCM_FLOW, 'flow')).toBe('consistency');
    expect(buildSigmas(LCM_FLOW, {}, 4, 'consistency')).toEqual({ ...buildSigmas({ ...LCM_FLOW, _class_name: 'FlowMatchEulerDiscreteScheduler' }, {}, 4, 'flow_euler') });
    expect(() => buildSigmas({ ...LCM_FLOW, scale_factors: [1.5, 2] }, {}, 4, 'consistency')).toThrow(/scale_factors .* upsamples x0 between steps/);
  });
});

describe('scm sampling on the exact Gaussian flow model', () => {
  const P = createGaussianParams({ dims: [3, 8, 8], seed: 5 });
  const DIMS = [1, 3, 8, 8];
  const SIZE = 3 * 8 * 8;

  async function run(steps: number, seed: number) {
    const model = fakeFlowModel(P, SCM, 'fraction');
    const draws = Array.from({ length: steps + 1 }, (_, k) => seededNormals(SIZE, seed + k));
    const noise = new Tensor([steps + 1, ...DIMS], Float32Array.from(draws.flatMap((d) => [...d])));
    const out = await Sampler.execute(
      fakeExecContext({ nodeId: 's', nodeType: 'Sampler' }),
      { model, latent: Tensor.zeros(DIMS), noise, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined },
      { ...(paramDefaults(Sampler) as Parameters<typeof Sampler.execute>[2]), solver: 'auto', steps },
    );
    return { x: out.latent.data, seen: model.seen };
  }

  it('one step returns the data mean: the exact x0 of pure noise is E[x0] = mu', async () => {
    const { x, seen } = await run(1, 10);
    expect(seen).toEqual([1.000003695487976]);
    expect(relL2(x, P.mu)).toBeLessThan(1e-4);
  });

  it('two steps: the second call sees the flow level of s = 1.3 and fresh noise moves the result off the mean', async () => {
    const a = await run(2, 10);
    const b = await run(2, 20);
    expect(a.seen).toEqual([1.000003695487976, 0.7827079892158508]);
    // The first x0 is mu for both; only the noise drawn for the second step tells them apart.
    expect(relL2(a.x, b.x)).toBeGreaterThan(1e-2);
  });
});
