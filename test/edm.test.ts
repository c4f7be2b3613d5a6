/**
 * EDM-preconditioned models (nodes/sampling/edm.ts): the grids of diffusers' EDMEulerScheduler and
 * EDMDPMSolverMultistepScheduler (literals printed by diffusers 58eb52c), and sampling an exact EDM network on
 * Gaussian data against the closed-form probability-flow ODE solution. Whole runs against diffusers are the
 * *-edm-* cases of test/diffusers-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { paramDefaults } from '../nodes/core/params.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import type { SchedulerConfig, Sigmas } from '../nodes/core/values.ts';
import { Sampler } from '../nodes/sampler.ts';
import { edmSigmas } from '../nodes/sampling/edm.ts';
import { createGaussianParams, denoisedVE, seededNormals, transportExact } from '../nodes/sampling/gaussian.ts';
import { defaultSolverFor } from '../nodes/sampling/schedule-rules.ts';
import { buildInversionSigmas, flippedSigmas } from '../nodes/sampling/inversion-sigmas.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import { fakeVpModel, relL2, type FakeModel } from './sampling-fake-model.ts';

const f32 = (xs: number[]) => xs.map(Math.fround);

describe('EDM grids as diffusers builds them', () => {
  it('EDMEulerScheduler: Karras levels in float64 rounded to float32, c_noise = 0.25 ln sigma, init sqrt(80^2 + 1)', () => {
    const s = edmSigmas({}, 6, 'EDMEulerScheduler');
    expect(s.sigmas).toEqual(f32([80.0, 24.408342361450195, 5.838947772979736, 0.9654169082641602, 0.08508720248937607, 0.0020000000949949026, 0.0]));
    expect(s.timesteps).toEqual(f32([1.0955066680908203, 0.79873126745224, 0.4411376416683197, -0.0087988106533885, -0.6160196661949158, -1.553652048110962]));
    expect(s.initNoiseSigma).toBeCloseTo(80.00624975587844, 12);
  });

  it('EDMDPMSolverMultistepScheduler: the ramp and Karras arithmetic in float32', () => {
    const s = edmSigmas({}, 6, 'EDMDPMSolverMultistepScheduler');
    expect(s.sigmas).toEqual(f32([79.99998474121094, 24.408334732055664, 5.838944911956787, 0.9654166102409363, 0.08508720248937607, 0.0019999996293336153, 0.0]));
    expect(s.timesteps.slice(0, 3)).toEqual(f32([1.0955066680908203, 0.7987311482429504, 0.44113752245903015]));
  });

  it('exponential levels ending on sigma_min (a last step back up by an ulp, as diffusers takes it)', () => {
    const s = edmSigmas({ sigma_schedule: 'exponential', final_sigmas_type: 'sigma_min' }, 4, 'EDMDPMSolverMultistepScheduler');
    expect(s.sigmas).toEqual(f32([80.0, 2.339214324951172, 0.06839902698993683, 0.001999999862164259, 0.0020000000949949026]));
  });

  it('solvers take their family\'s EDM grid; table-walking solvers are refused with the reason', () => {
    const cfg = { _class_name: 'EDMDPMSolverMultistepScheduler', sigma_min: 0.002, sigma_max: 80, sigma_data: 0.5 };
    expect(buildSigmas(cfg, {}, 6, 'dpmpp_2m').origin).toBe('EDMDPMSolverMultistepScheduler');
    expect(buildSigmas(cfg, {}, 6, 'euler').origin).toBe('EDMEulerScheduler');
    expect(() => buildSigmas(cfg, {}, 6, 'ddim')).toThrow(/EDM model/);
    expect(defaultSolverFor(cfg, 'vp')).toBe('dpmpp_2m');
    expect(defaultSolverFor({ ...cfg, algorithm_type: 'sde-dpmsolver++' }, 'vp')).toBe('dpmpp_2m_sde');
    expect(defaultSolverFor({ _class_name: 'EDMEulerScheduler' }, 'vp')).toBe('euler');
  });

  it('Flip Sigmas on an EDM grid: the levels reversed from 1e-4, every timestep c_noise = ln(sigma) / 4 of its level', () => {
    const cfg = { _class_name: 'EDMEulerScheduler', sigma_min: 0.002, sigma_max: 80, sigma_data: 0.5 };
    const forward = buildSigmas(cfg, {}, 6, 'euler');
    expect(forward.sigmas[6]).toBe(0);
    const up = flippedSigmas(forward, cfg, {});
    expect(up.sigmas).toEqual([1e-4, ...forward.sigmas.slice(0, 6).reverse()]);
    up.timesteps.forEach((t, k) => expect(t).toBeCloseTo(Math.log(up.sigmas[k]) / 4, 6));
    expect(() => flippedSigmas(up, cfg, {})).toThrow(/already ascends/);
  });
});

describe('EDM inversion grids', () => {
  it('ascend from the smallest positive level to sigma_max, with c_noise timesteps', () => {
    const cfg = { _class_name: 'EDMDPMSolverMultistepScheduler', sigma_min: 0.002, sigma_max: 80, sigma_data: 0.5 };
    const s = buildInversionSigmas(cfg, {}, 5, 'dpmpp_2m');
    expect(s.sigmas.length).toBe(6);
    expect(s.sigmas[0]).toBeCloseTo(0.002, 6);
    expect(s.sigmas[5]).toBeCloseTo(80, 3);
    for (let k = 1; k < s.sigmas.length; k++) expect(s.sigmas[k]).toBeGreaterThan(s.sigmas[k - 1]);
    expect(s.timesteps).toEqual(s.sigmas.slice(0, -1).map((v) => Math.fround(0.25 * Math.fround(Math.log(Math.fround(v))))));
    expect(() => buildInversionSigmas(cfg, {}, 5, 'ddim')).toThrow(/EDM model/);
  });
});

describe('an exact EDM network on Gaussian data', () => {
  const p = createGaussianParams({ dims: [2, 4, 4], seed: 8 });
  const DIMS = [1, 2, 4, 4];
  const SD = 0.5;

  /** The network F with D = c_skip x + c_out F equal to the exact x0 of the data (epsilon or v preconditioning). */
  function edmModel(cfg: SchedulerConfig): FakeModel {
    const model = fakeVpModel(p, cfg);
    const sign = cfg.prediction_type === 'v_prediction' ? -1 : 1;
    model.denoiser.run = async (feeds) => {
      model.calls++;
      const s = Math.exp(4 * Number(feeds.timestep.data[0]));
      const cIn = 1 / Math.sqrt(s * s + SD * SD);
      const x = Float64Array.from(feeds.sample.data as Float32Array, (v) => v / cIn);
      const d = denoisedVE(p, x, s);
      const skip = (SD * SD) / (s * s + SD * SD);
      const cOut = (sign * s * SD) / Math.sqrt(s * s + SD * SD);
      return { out_sample: new Tensor(feeds.sample.dims, Float32Array.from(d, (v, k) => (v - skip * x[k]) / cOut)) };
    };
    return model;
  }

  async function error(cfg: SchedulerConfig, solver: string, steps: number): Promise<number> {
    const model = edmModel({ sigma_min: 0.002, sigma_max: 80, sigma_data: SD, final_sigmas_type: 'sigma_min', ...cfg });
    const noise = new Tensor(DIMS, Float32Array.from(seededNormals(32, 3)));
    const out = await Sampler.execute(
      fakeExecContext({ nodeId: 's', nodeType: 'Sampler' }),
      { model, latent: Tensor.zeros(DIMS), noise, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined },
      { ...(paramDefaults(Sampler) as Parameters<typeof Sampler.execute>[2]), solver, steps, record_trajectory: true },
    );
    const t = out.trajectory;
    const [s0, s1] = [t.sigmas[0], t.sigmas[t.sigmas.length - 1]];
    // The run's own start (VE noise scaled by init_noise_sigma), carried exactly to its last level.
    const exact = transportExact(p, Float64Array.from(t.states[0].data), 1, s0, 1, s1);
    return relL2(out.latent.data, exact);
  }

  it.each([
    ['EDMEulerScheduler', 'euler', 'epsilon'],
    ['EDMEulerScheduler', 'heun', 'v_prediction'],
    ['EDMDPMSolverMultistepScheduler', 'dpmpp_2m', 'epsilon'],
    ['EDMDPMSolverMultistepScheduler', 'dpmpp_2m', 'v_prediction'],
  ])('%s / %s (%s): converges to the exact ODE solution at the solver\'s order', async (cls, solver, prediction) => {
    const cfg = { _class_name: cls, prediction_type: prediction };
    const e40 = await error(cfg, solver, 40);
    const e160 = await error(cfg, solver, 160);
    // Wrong preconditioning (c_in, c_out, c_noise) or variables leave an error of order 1 at any step count.
    const order = Math.log(e40 / e160) / Math.log(4);
    expect(order).toBeGreaterThan((solver === 'euler' ? 1 : 2) - 0.2);
    expect(order).toBeLessThan((solver === 'euler' ? 1 : 2) + 0.2);
    expect(e160).toBeLessThan(solver === 'euler' ? 0.03 : 1e-3);
  });

  it('inverts and samples back (Schedule direction invert, then the forward grid): the ODE round trip', async () => {
    const cfg = { _class_name: 'EDMDPMSolverMultistepScheduler', sigma_min: 0.002, sigma_max: 80, sigma_data: SD, final_sigmas_type: 'sigma_min' };
    const model = edmModel(cfg);
    const data = new Tensor(DIMS, Float32Array.from(seededNormals(32, 9), (v) => 0.3 * v));
    // The inversion grid ascends (start auto = continue); sampling back continues from the inverted latent.
    const run = (latent: Tensor, sigmas: Sigmas) =>
      Sampler.execute(
        fakeExecContext({ nodeId: 's', nodeType: 'Sampler' }),
        { model, latent, noise: undefined, sigmas, conditioning: undefined, guidance: undefined, mean: undefined },
        { ...(paramDefaults(Sampler) as Parameters<typeof Sampler.execute>[2]), solver: 'dpmpp_2m', steps: 50, start: 'continue' },
      );
    const up = buildInversionSigmas(cfg, {}, 50, 'dpmpp_2m');
    const noise = (await run(data, up)).latent;
    // Carried exactly up to sigma_max, the data's latent is the ODE transport of the data.
    const exactUp = transportExact(p, Float64Array.from(data.data), 1, up.sigmas[0], 1, up.sigmas[50]);
    expect(relL2(noise.data, exactUp)).toBeLessThan(0.015);
    const down = buildSigmas(cfg, {}, 50, 'dpmpp_2m');
    const back = (await run(noise, down)).latent;
    expect(relL2(back.data, data.data)).toBeLessThan(5e-3);
  });
});
