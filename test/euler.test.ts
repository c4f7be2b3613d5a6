import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { Sigmas } from '../nodes/core/values.ts';
import { createDenoiseFn, predictionFromOutput, timestepFeed } from '../nodes/sampling/denoiser.ts';
import { createEuler } from '../nodes/sampling/euler.ts';
import { createFlowEuler } from '../nodes/sampling/flow-euler.ts';
import { createGaussianParams, denoisedVE, epsVP, seededNormals, transportExact, velocityRF } from '../nodes/sampling/gaussian.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { fakeFlowModel, fakeVpModel, FLOW_MATCH_SHIFT3, logLogSlope, relL2, SD_VP_DDIM } from './sampling-fake-model.ts';

const DIMS = [1, 3, 8, 8];
const p = createGaussianParams({ dims: [3, 8, 8], seed: 5 });
const start = Float32Array.from(seededNormals(192, 11));
const STEPS = [10, 20, 40, 80, 160];
const EULER_LINSPACE = { ...SD_VP_DDIM, _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'linspace', steps_offset: 0 };

function truncate(s: Sigmas, minSigma: number): Sigmas {
  let k = s.timesteps.length;
  while (s.sigmas[k] < minSigma) k--;
  return { ...s, sigmas: s.sigmas.slice(0, k + 1), timesteps: s.timesteps.slice(0, k) };
}

describe('Euler (EulerDiscreteScheduler) on Gaussian data', () => {
  it('is first order against the exact transport (linspace grid, measured to a level >= 0.3)', async () => {
    // Stops above the grid's sqrt(t) tail near t = 0 and before the final jump to 0, which cap the
    // observed order over 10..160 steps (see test/ddim.test.ts and the fact sheet's gotchas).
    const errors: number[] = [];
    for (const n of STEPS) {
      const model = fakeVpModel(p, EULER_LINSPACE);
      const sigmas = truncate(buildSigmas(EULER_LINSPACE, model.modelIndex, n, 'euler'), 0.3);
      const s0 = sigmas.sigmas[0];
      const s1 = sigmas.sigmas[sigmas.sigmas.length - 1];
      const x = new Tensor(DIMS, start.map((v) => v * s0)); // VE state
      const r = await runSampler({ solver: createEuler(), sigmas, x, model: createDenoiseFn(model, { space: 'vp' }) });
      errors.push(relL2(r.x.data, transportExact(p, Float64Array.from(x.data), 1, s0, 1, s1)));
    }
    const slope = logLogSlope(STEPS, errors);
    expect(Math.abs(-slope - 1)).toBeLessThan(0.15);
    expect(errors[4]).toBeLessThan(errors[0] / 8);
  });

  it('matches diffusers EulerDiscreteScheduler.step written out (scaled input, fractional t, d = (x - x0)/s)', async () => {
    const model = fakeVpModel(p, EULER_LINSPACE);
    const sigmas = buildSigmas(EULER_LINSPACE, model.modelIndex, 7, 'euler');
    const x = new Tensor(DIMS, start.map((v) => v * sigmas.sigmas[0])); // init_noise_sigma = sigma_max (linspace)
    const r = await runSampler({ solver: createEuler(), sigmas, x, model: createDenoiseFn(model, { space: 'vp' }) });
    let ref = Float64Array.from(x.data);
    const refModel = fakeVpModel(p, EULER_LINSPACE);
    for (let i = 0; i < 7; i++) {
      const s = sigmas.sigmas[i];
      const input = Float32Array.from(ref, (v) => v / Math.sqrt(s * s + 1));
      const out = await refModel.denoiser.run({
        sample: { dims: DIMS, data: input, type: 'float32' },
        timestep: { dims: [1], data: Float32Array.of(sigmas.timesteps[i]), type: 'float32' },
      });
      const eps = out.out_sample.data;
      ref = ref.map((v, k) => {
        const x0 = v - s * eps[k];
        return v + (sigmas.sigmas[i + 1] - s) * ((v - x0) / s);
      });
    }
    expect(relL2(r.x.data, ref)).toBeLessThan(2e-6);
    // linspace(0, 999, 7) reversed: 999, 832.5, ..., 0, passed unrounded to a float timestep input.
    expect(model.seen).toEqual([999, 832.5, 666, 499.5, 333, 166.5, 0]);
  });

  it('an int64 timestep input gets t truncated toward zero (diffusers ONNX pipelines)', async () => {
    const model = fakeVpModel(p, EULER_LINSPACE, { timestepType: 'int64' });
    const sigmas = buildSigmas(EULER_LINSPACE, model.modelIndex, 7, 'euler');
    await runSampler({ solver: createEuler(), sigmas, x: new Tensor(DIMS, start.slice()), model: createDenoiseFn(model, { space: 'vp' }) });
    expect(model.seen).toEqual([999, 832, 666, 499, 333, 166, 0]);
    const feed = timestepFeed({ name: 'timestep', type: 'int64', shape: ['batch'] }, 12.9, 3);
    expect(feed.dims).toEqual([3]);
    expect([...(feed.data as BigInt64Array)]).toEqual([12n, 12n, 12n]);
  });
});

describe('flow-matching Euler on Gaussian data', () => {
  async function flowErrors(toZero: boolean): Promise<number[]> {
    const errors: number[] = [];
    for (const n of STEPS) {
      const model = fakeFlowModel(p);
      const full = buildSigmas(FLOW_MATCH_SHIFT3, model.modelIndex, n, 'euler');
      const sigmas = toZero ? full : truncate(full, 1e-9);
      const t1 = sigmas.sigmas[sigmas.sigmas.length - 1];
      const x = new Tensor(DIMS, start.slice()); // t = 1: pure noise
      const r = await runSampler({ solver: createFlowEuler(), sigmas, x, model: createDenoiseFn(model, { space: 'flow' }) });
      errors.push(relL2(r.x.data, transportExact(p, Float64Array.from(start), 0, 1, 1 - t1, t1)));
    }
    return errors;
  }

  it('is first order to the last nonzero level (shift 3)', async () => {
    const slope = logLogSlope(STEPS, await flowErrors(false));
    expect(Math.abs(-slope - 1)).toBeLessThan(0.15);
  });

  it('is first order to t = 0 as well', async () => {
    const slope = logLogSlope(STEPS, await flowErrors(true));
    expect(Math.abs(-slope - 1)).toBeLessThan(0.15);
  });

  it('fraction and scheduler timestep units give the same run; Euler on a flow grid is flow Euler', async () => {
    const a = fakeFlowModel(p, FLOW_MATCH_SHIFT3, 'fraction');
    const b = fakeFlowModel(p, FLOW_MATCH_SHIFT3, 'scheduler');
    const sa = buildSigmas(a.scheduler, a.modelIndex, 9, 'euler');
    const sb = buildSigmas(b.scheduler, b.modelIndex, 9, 'euler');
    expect(sb.timesteps[3]).toBeCloseTo(sa.timesteps[3] * 1000, 3);
    const x = new Tensor(DIMS, start.slice());
    const ra = await runSampler({ solver: createFlowEuler(), sigmas: sa, x, model: createDenoiseFn(a, { space: 'flow' }) });
    const rb = await runSampler({ solver: createFlowEuler(), sigmas: sb, x, model: createDenoiseFn(b, { space: 'flow' }) });
    expect(relL2(ra.x.data, rb.x.data)).toBeLessThan(1e-6);
    const rc = await runSampler({ solver: createEuler(), sigmas: sa, x, model: createDenoiseFn(a, { space: 'flow' }) });
    expect([...rc.x.data]).toEqual([...ra.x.data]);
    expect(() => createFlowEuler().init({ sigmas: buildSigmas(SD_VP_DDIM, {}, 4, 'ddim') }, x)).toThrow(/flow grid/);
  });
});

describe('model output conversions (fact sheet section 1)', () => {
  const x = Float64Array.from(seededNormals(192, 3), (v) => 2 * v);
  const xt = new Tensor(DIMS, Float32Array.from(x));
  const f32 = (a: Float64Array) => new Tensor(DIMS, Float32Array.from(a));

  it('eps, x0 and v outputs of a VP model give the same VE prediction', () => {
    const s = 1.7;
    const alpha = 1 / Math.sqrt(s * s + 1);
    const sigma = s * alpha;
    const xvp = x.map((v) => v * alpha);
    const eps = epsVP(p, xvp, alpha, sigma);
    const x0 = denoisedVE(p, x, s); // the VE denoiser of the same data: x0 is space independent
    const v = eps.map((e, k) => alpha * e - sigma * x0[k]);
    const fromEps = predictionFromOutput(f32(eps), xt, s, 'vp', 'epsilon');
    const fromX0 = predictionFromOutput(f32(x0), xt, s, 'vp', 'sample');
    const fromV = predictionFromOutput(f32(v), xt, s, 'vp', 'v_prediction');
    for (const pr of [fromEps, fromX0, fromV]) {
      expect(relL2(pr.denoised.data, x0)).toBeLessThan(1e-5);
      expect(relL2(pr.eps.data, eps)).toBeLessThan(1e-5);
      expect(relL2(pr.derivative.data, eps)).toBeLessThan(1e-5);
    }
  });

  it('a flow velocity gives x0 = x - t v and eps = x + (1 - t) v', () => {
    const t = 0.4;
    const v = velocityRF(p, x, t);
    const pr = predictionFromOutput(f32(v), xt, t, 'flow', 'flow');
    const rebuilt = pr.denoised.data.map((d, k) => (1 - t) * d + t * pr.eps.data[k]);
    expect(relL2(rebuilt, x)).toBeLessThan(1e-6);
    expect(relL2(pr.derivative.data, v)).toBeLessThan(1e-7);
    expect(() => predictionFromOutput(f32(v), xt, t, 'flow', 'v_prediction')).toThrow(/VP models/);
  });
});

describe('EulerDiscreteScheduler options written out (diffusers 58eb52c step(), s_churn = 0)', () => {
  /** diffusers' loop: scale_model_input, unet(t), step(): x0 by prediction type, d = (x - x0)/sigma, x += d (sigma_next - sigma). */
  async function diffusersEuler(cfg: typeof EULER_LINSPACE, sigmas: Sigmas, x: Float64Array): Promise<{ x: Float64Array; seen: number[] }> {
    const model = fakeVpModel(p, cfg);
    const type = (cfg as { prediction_type?: string }).prediction_type ?? 'epsilon';
    let sample = x;
    for (let i = 0; i < sigmas.timesteps.length; i++) {
      const s = sigmas.sigmas[i];
      const out = await model.denoiser.run({
        sample: { dims: DIMS, data: Float32Array.from(sample, (v) => v / Math.sqrt(s * s + 1)), type: 'float32' },
        timestep: { dims: [1], data: Float32Array.of(sigmas.timesteps[i]), type: 'float32' },
      });
      const o = out.out_sample.data;
      const x0 =
        type === 'epsilon'
          ? sample.map((v, k) => v - s * o[k])
          : type === 'v_prediction'
            ? sample.map((v, k) => o[k] * (-s / Math.sqrt(s * s + 1)) + v / (s * s + 1))
            : Float64Array.from(o);
      sample = sample.map((v, k) => v + ((v - x0[k]) / s) * (sigmas.sigmas[i + 1] - s));
    }
    return { x: sample, seen: model.seen };
  }

  const cases: [string, Record<string, unknown>, number][] = [
    ['Karras, leading + steps_offset, v_prediction, final_sigmas_type sigma_min', { timestep_spacing: 'leading', steps_offset: 1, use_karras_sigmas: true, prediction_type: 'v_prediction', final_sigmas_type: 'sigma_min' }, 6],
    ['exponential with sigma_min / sigma_max keys, sample prediction', { use_exponential_sigmas: true, sigma_min: 0.1, sigma_max: 10, prediction_type: 'sample' }, 5],
    ['log_linear (N + 1 geometric levels: the N steps end on sigma_min)', { interpolation_type: 'log_linear' }, 5],
    ['trailing spacing', { timestep_spacing: 'trailing', steps_offset: 1 }, 4],
  ];
  for (const [name, extra, n] of cases) {
    it(name, async () => {
      const cfg = { ...EULER_LINSPACE, ...extra } as typeof EULER_LINSPACE;
      const model = fakeVpModel(p, cfg);
      const sigmas = buildSigmas(cfg, model.modelIndex, n, 'euler');
      const x = new Tensor(DIMS, start.map((v) => v * sigmas.initNoiseSigma!));
      const r = await runSampler({ solver: createEuler(), sigmas, x, model: createDenoiseFn(model, { space: 'vp' }) });
      const ref = await diffusersEuler(cfg, sigmas, Float64Array.from(x.data));
      expect(model.seen).toEqual(ref.seen);
      // The solver's state is diffusers' latent (VE variables), also when the last level is not 0.
      expect(relL2(r.x.data, ref.x)).toBeLessThan(1e-6);
    });
  }

  it('grid ends: sigma_min final level and log_linear stop at the table level sqrt((1 - abar_0)/abar_0), others at 0', () => {
    // scaled_linear: beta_0 = beta_start; diffusers takes the table in float32 (torch: 0.029167532920837402).
    const abar0 = Math.fround(1 - Math.fround(Math.fround(Math.sqrt(0.00085)) ** 2));
    const sigmaMin = Math.fround(Math.sqrt(Math.fround(Math.fround(1 - abar0) / abar0)));
    expect(sigmaMin).toBe(0.029167532920837402);
    const end = (extra: Record<string, unknown>) => {
      const s = buildSigmas({ ...EULER_LINSPACE, ...extra }, {}, 5, 'euler').sigmas;
      return s[s.length - 1];
    };
    expect(end({ final_sigmas_type: 'sigma_min' })).toBeCloseTo(sigmaMin, 10);
    expect(end({ interpolation_type: 'log_linear' })).toBeCloseTo(sigmaMin, 10);
    expect(end({})).toBe(0);
    expect(end({ use_karras_sigmas: true })).toBe(0);
  });
});
