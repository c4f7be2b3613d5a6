import { describe, expect, it } from 'vitest';
import { comfyBrownianNoise } from '../nodes/core/brownian-tree.ts';
import { SeededNormal } from '../nodes/core/random.ts';
import { seededDraws } from '../nodes/core/seeded-draws.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { createConsistency } from '../nodes/sampling/consistency.ts';
import { createDdim } from '../nodes/sampling/ddim.ts';
import { createDdpmPosterior } from '../nodes/sampling/ddpm-posterior.ts';
import { createDpmpp3mSde } from '../nodes/sampling/dpmpp-3m-sde.ts';
import { comfySdeMidpoint, createDpmppSde } from '../nodes/sampling/dpmpp-sde.ts';
import { createErSde, erSdeIntegrals } from '../nodes/sampling/er-sde.ts';
import { createGaussianParams, seededNormals } from '../nodes/sampling/gaussian.ts';
import { levelOfLambda, snrLevel } from '../nodes/sampling/half-log-snr.ts';
import type { NoiseSource, NoiseSpan } from '../nodes/sampling/ops.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import { createSeeds } from '../nodes/sampling/seeds.ts';
import { dpmMultistepCoefficients } from '../nodes/sampling/dpm-multistep.ts';
import { expLevel } from '../nodes/sampling/lambda.ts';
import { linearCombination } from '../nodes/sampling/ops.ts';
import type { Solver } from '../nodes/sampling/solver.ts';
import { exactEnd, exactModel, geometricLevels, gridOf } from './exact-models.ts';
import { logLogSlope, relL2 } from './sampling-fake-model.ts';

const p = createGaussianParams({ dims: [3, 8, 8], seed: 5 });
const DIMS = [1, 3, 8, 8];
const z = Float32Array.from(seededNormals(192, 11));
const STEPS = [8, 16, 32, 64];
const veGrid = (n: number) => gridOf('vp', geometricLevels(10, 0.3, n));

/** A sequential seeded source that records the spans it is asked for. */
function spanRecorder(seed: number): NoiseSource & { spans: (NoiseSpan | undefined)[] } {
  const rng = new SeededNormal(seed);
  const src = ((dims: readonly number[], span?: NoiseSpan) => {
    src.spans.push(span);
    const t = new Tensor(dims);
    rng.fill(t.data);
    return t;
  }) as NoiseSource & { spans: (NoiseSpan | undefined)[] };
  src.spans = [];
  return src;
}

async function order(make: () => Solver, steps: readonly number[] = STEPS): Promise<{ slope: number; errors: number[] }> {
  const errors: number[] = [];
  for (const n of steps) {
    const sigmas = veGrid(n);
    const s0 = sigmas.sigmas[0];
    const x = new Tensor(DIMS, z.map((v) => v * s0));
    const r = await runSampler({ solver: make(), sigmas, x, model: exactModel(p, 'vp') });
    errors.push(relL2(r.x.data, exactEnd(p, 'vp', x.data, s0, sigmas.sigmas[sigmas.sigmas.length - 1])));
  }
  return { slope: -logLogSlope([...steps], errors), errors };
}

describe('DPM++ SDE (k-diffusion sample_dpmpp_sde)', () => {
  it('at eta 0 is the deterministic DPM-Solver++(2S): second order on the exact Gaussian', async () => {
    const { slope } = await order(() => createDpmppSde({ eta: 0 }));
    expect(Math.abs(slope - 2)).toBeLessThan(0.2);
  });

  it("takes k-diffusion's r (SamplerDPMPP_SDE): still second order with its stage elsewhere, and 1/2 is the default", async () => {
    for (const r of [0.3, 0.8]) expect(Math.abs((await order(() => createDpmppSde({ eta: 0, r }))).slope - 2)).toBeLessThan(0.2);
    const sigmas = veGrid(6);
    const x = new Tensor(DIMS, z.map((v) => v * 10));
    const half = await runSampler({ solver: createDpmppSde({ eta: 0, r: 0.5 }), sigmas, x, model: exactModel(p, 'vp') });
    const plain = await runSampler({ solver: createDpmppSde({ eta: 0 }), sigmas, x, model: exactModel(p, 'vp') });
    expect(Array.from(half.x.data)).toEqual(Array.from(plain.x.data));
    const third = await runSampler({ solver: createDpmppSde({ eta: 0, r: 1 / 3 }), sigmas, x, model: exactModel(p, 'vp') });
    expect(relL2(third.x.data, plain.x.data)).toBeGreaterThan(1e-6);
    expect(() => createDpmppSde({ r: 0 })).toThrow(/r must be a positive number/);
    expect(() => createDpmppSde({ r: 0.3, noiseAt: 'diffusers' })).toThrow(/halfway/);
  });

  it("computes its stage level in float32 as ComfyUI does: halfway in -ln sigma, a float32 value", () => {
    for (const [s, t] of [[14.614641, 9.7], [1.2, 0.8], [0.06, 0.0292]]) {
      const mid = comfySdeMidpoint('vp', s, t);
      expect(Math.fround(mid)).toBe(mid);
      expect(mid).toBeCloseTo(Math.sqrt(s * t), 5);
    }
  });

  it('asks for its two noises over (s, s_mid) and (s, s_next) on every step but the one onto 0, and makes 2 calls per step', async () => {
    const levels = [...geometricLevels(10, 0.3, 4), 0];
    const noise = spanRecorder(3);
    const model = exactModel(p, 'vp');
    await runSampler({ solver: createDpmppSde(), sigmas: gridOf('vp', levels), x: new Tensor(DIMS, z.map((v) => v * 10)), model, noise });
    const expected: NoiseSpan[] = [];
    for (let i = 0; i < 4; i++) expected.push({ from: levels[i], to: comfySdeMidpoint('vp', levels[i], levels[i + 1]) }, { from: levels[i], to: levels[i + 1] });
    expect(noise.spans).toEqual(expected);
    expect(model.calls).toBe(9);
    // The stages are evaluated at the float32 midpoints the spans name.
    expect(model.levels.filter((_, k) => k % 2 === 1 && k < 8)).toEqual(expected.filter((_, k) => k % 2 === 0).map((s) => s.to));
  });

  it('refuses inversion grids', () => {
    expect(() => createDpmppSde().init({ sigmas: gridOf('vp', [0.3, 1, 3]), noise: spanRecorder(1) }, new Tensor(DIMS))).toThrow(/upwards/);
  });
});

describe('DPM++ 3M SDE (k-diffusion sample_dpmpp_3m_sde)', () => {
  it('at eta 0 converges (order 2: its first-order start caps it, fact sheet 8)', async () => {
    const three = await order(() => createDpmpp3mSde({ eta: 0 }));
    expect(three.slope).toBeGreaterThan(1.8);
  });

  it("at eta 0 one step is the reference DPM-Solver++(3M) update (diffusers' form, order 2 on the Gaussian), and 2M from its second step", async () => {
    const [s, t, p1, p2] = [1.7, 1.1, 2.6, 4.5];
    const rnd = (seed: number) => new Tensor(DIMS, Float32Array.from(seededNormals(192, seed)));
    const [x, D, D1, D2] = [rnd(1), rnd(2), rnd(3), rnd(4)];
    const model = async () => ({ denoised: D, eps: D, derivative: D });
    const ctx = { sigmas: gridOf('vp', [s, t]) };
    const solver = createDpmpp3mSde({ eta: 0 });
    const lv = (v: number) => expLevel('vp', v);
    const expect3 = dpmMultistepCoefficients({ form: 'data', solverType: 'midpoint', variant: 'reference', order: 3, s: lv(s), t: lv(t), history: [lv(p1), lv(p2)] });
    const three = await solver.step(ctx, { x, previous: [D1, D2], steps: [Math.log(p1 / s), Math.log(p2 / p1)] }, 0, model);
    const want3 = linearCombination([[expect3.x, x], [expect3.m[0], D], [expect3.m[1], D1], [expect3.m[2], D2]]);
    expect(relL2(three.x.data, want3.data)).toBeLessThan(1e-6);
    const expect2 = dpmMultistepCoefficients({ form: 'data', solverType: 'heun', variant: 'reference', order: 2, s: lv(s), t: lv(t), history: [lv(p1)] });
    const two = await solver.step(ctx, { x, previous: [D1], steps: [Math.log(p1 / s)] }, 0, model);
    const want2 = linearCombination([[expect2.x, x], [expect2.m[0], D], [expect2.m[1], D1]]);
    expect(relL2(two.x.data, want2.data)).toBeLessThan(1e-6);
  });

  it('asks for one noise per step over (s, s_next), none on the step onto 0', async () => {
    const levels = [...geometricLevels(10, 0.3, 5), 0];
    const noise = spanRecorder(4);
    await runSampler({ solver: createDpmpp3mSde(), sigmas: gridOf('vp', levels), x: new Tensor(DIMS, z.map((v) => v * 10)), model: exactModel(p, 'vp'), noise });
    expect(noise.spans).toEqual(levels.slice(0, 5).map((s, i) => ({ from: s, to: levels[i + 1] })));
  });
});

describe('the SDE samplers sample the data law', () => {
  for (const [name, make] of [
    ['dpmpp_sde', () => createDpmppSde()],
    ['dpmpp_3m_sde', () => createDpmpp3mSde()],
    ['er_sde', () => createErSde()],
    ['seeds_2', () => createSeeds({ stages: 2 })],
    ['seeds_3', () => createSeeds({ stages: 3 })],
    ['exp_heun_2_x0_sde', () => createSeeds({ stages: 2, r: 1, solverType: 'phi_2' })],
  ] as const) {
    it(`${name}: from pure noise at sigma 40, 60 steps end with the data's variance in every direction`, async () => {
      await expectDataLaw(make(), 60);
    });
  }
});

const SMALL = createGaussianParams({ dims: [1, 2, 2], seed: 3 });
const N_SAMPLES = 3000;

/** Runs N_SAMPLES chains from pure noise at sigma 40 down a geometric grid to 0.02, then 0, and checks each eigendirection's variance against the data's. */
async function expectDataLaw(solver: Solver, steps: number): Promise<void> {
  const levels = [...geometricLevels(40, 0.02, steps), 0];
  const x = new Tensor([N_SAMPLES, 1, 2, 2], Float32Array.from(seededNormals(4 * N_SAMPLES, 21), (v) => v * Math.sqrt(40 * 40 + 1)));
  const r = await runSampler({ solver, sigmas: gridOf('vp', levels), x, model: exactModel(SMALL, 'vp'), noise: spanRecorder(8) });
  const D = 4;
  for (let k = 0; k < D; k++) {
    let m = 0;
    const y = new Float64Array(N_SAMPLES);
    for (let b = 0; b < N_SAMPLES; b++) {
      let s = 0;
      for (let i = 0; i < D; i++) s += SMALL.U[i * D + k] * (r.x.data[b * D + i] - SMALL.mu[i]);
      y[b] = s;
      m += s / N_SAMPLES;
    }
    const v = y.reduce((a, t) => a + (t - m) ** 2, 0) / (N_SAMPLES - 1);
    expect(Math.abs(v / SMALL.l[k] - 1), `direction ${k}`).toBeLessThan(0.15);
  }
}

describe("noise_generator comfyui: the SDE samplers' Brownian noise", () => {
  const grid = [14.614641189575195, 6.1, 2.3, 0.7, 0.0291671585, 0];
  it('answers a span from the tree ComfyUI builds over the grid\'s positive levels, and zeros for a span onto 0', () => {
    const draws = seededDraws('comfyui', 42, 48);
    const tree = comfyBrownianNoise({ sigmaMin: Math.fround(0.0291671585), sigmaMax: Math.fround(14.614641189575195), size: 48, seed: 42 });
    expect(Array.from(draws.between!(6.1, 2.3, grid))).toEqual(Array.from(tree(Math.fround(6.1), Math.fround(2.3))));
    // Stateless: asking again, or out of order, gives the same noise (unlike next()).
    const later = draws.between!(0.7, 0.0291671585, grid);
    expect(Array.from(draws.between!(6.1, 2.3, grid))).toEqual(Array.from(tree(Math.fround(6.1), Math.fround(2.3))));
    expect(Array.from(later)).toEqual(Array.from(tree(Math.fround(0.7), Math.fround(0.0291671585))));
    expect(Array.from(draws.between!(0.0291671585, 0, grid))).toEqual(new Array(48).fill(0));
  });

  it('is offered by the comfyui generator only: torch and flowstudio draw step noise in sequence', () => {
    expect(seededDraws('torch', 1, 8).between).toBeUndefined();
    expect(seededDraws('flowstudio', 1, 8).between).toBeUndefined();
  });
});

describe("Consistency sampling (ComfyUI's lcm sampler)", () => {
  it('takes the x0 prediction and noises it to the next level (VE: D + s z; flow: (1 - t) D + t z), D itself onto 0', async () => {
    for (const space of ['vp', 'flow'] as const) {
      const levels = space === 'vp' ? [10, 3, 0.5, 0] : [0.9, 0.6, 0.2, 0];
      const model = exactModel(p, space);
      const noise = spanRecorder(6);
      const x = new Tensor(DIMS, z.map((v) => v * levels[0]));
      const r = await runSampler({ solver: createConsistency(), sigmas: gridOf(space, levels), x, model, noise });
      // Replay: the same noise stream, the formula written out.
      const replay = spanRecorder(6);
      let y = x;
      for (let i = 0; i < 3; i++) {
        const D = (await exactModel(p, space)(y, { sigma: levels[i], timestep: 0 })).denoised;
        const next = levels[i + 1];
        y = next === 0 ? D : linearCombination([[space === 'flow' ? 1 - next : 1, D], [next, replay(DIMS)]]);
      }
      expect(relL2(r.x.data, y.data)).toBeLessThan(1e-6);
      expect(noise.spans.length).toBe(2);
      expect(model.calls).toBe(3);
    }
  });
});

describe('ER-SDE-Solver-3 (ComfyUI er_sde)', () => {
  it("takes SamplerER_SDE's options: the ODE draws no noise, the reverse-time SDE at eta 0 is that ODE, and bad options are named", async () => {
    const sigmas = gridOf('vp', geometricLevels(10, 0.3, 6));
    const x = new Tensor(DIMS, z.map((v) => v * 10));
    const noise = spanRecorder(3);
    const ode = await runSampler({ solver: createErSde({ type: 'ode' }), sigmas, x, model: exactModel(p, 'vp'), noise });
    expect(noise.spans.length).toBe(0);
    const sde0 = await runSampler({ solver: createErSde({ type: 'reverse-time-sde', eta: 0 }), sigmas, x, model: exactModel(p, 'vp'), noise: spanRecorder(3) });
    expect(Array.from(sde0.x.data)).toEqual(Array.from(ode.x.data));
    // The ODE (f(x) = x) with all three stages is a third-order multistep method: closer to the exact end than one stage.
    const exact = exactEnd(p, 'vp', x.data, 10, sigmas.sigmas[sigmas.sigmas.length - 1]);
    const oneStage = await runSampler({ solver: createErSde({ type: 'ode', maxStage: 1 }), sigmas, x, model: exactModel(p, 'vp') });
    expect(relL2(ode.x.data, exact)).toBeLessThan(relL2(oneStage.x.data, exact));
    expect(() => createErSde({ maxStage: 4 })).toThrow(/max stage must be 1, 2 or 3/);
    expect(() => createErSde({ type: 'sde' as 'ode' })).toThrow(/type must be one of/);
    expect(() => createErSde({ eta: -1 })).toThrow(/eta must be/);
  });

  it("its stage integrals follow ComfyUI's 200-point left rule for int 1/f and int (l - lambda_s)/f", () => {
    const f = (x: number) => x * (Math.exp(x ** 0.3) + 10);
    const simpson = (g: (l: number) => number, a: number, b: number, n = 2000) => {
      const h = (b - a) / n;
      let s = g(a) + g(b);
      for (let k = 1; k < n; k++) s += (k % 2 ? 4 : 2) * g(a + k * h);
      return (s * h) / 3;
    };
    for (const [ls, lt] of [[14.6, 9.1], [1.2, 0.8], [0.09, 0.03]]) {
      const { s1, s2 } = erSdeIntegrals(ls, lt);
      // The rule integrates from lambda_t up to lambda_s; a left rule over 200 points is within 1%.
      expect(Math.abs(s1 / simpson((l) => 1 / f(l), lt, ls) - 1)).toBeLessThan(0.01);
      expect(Math.abs(s2 / simpson((l) => (l - ls) / f(l), lt, ls) - 1)).toBeLessThan(0.02);
    }
  });

  it('with its noise off, step 3 combines x, D and the first and second divided differences as written', async () => {
    const levels = [8, 4, 2, 1, 0.5];
    const preds = [rnd(11), rnd(12), rnd(13), rnd(14)];
    let call = 0;
    const model = async () => ({ denoised: preds[call], eps: preds[call], derivative: preds[call++] });
    const x0 = rnd(10);
    const r = await runSampler({ solver: createErSde({ sNoise: 0 }), sigmas: gridOf('vp', levels), x: x0, model });
    // Written out: f, r, the two integrals and the divided differences, step by step.
    const f = (x: number) => x * (Math.exp(x ** 0.3) + 10);
    let x = x0;
    let slopePrev: Tensor | undefined;
    for (let i = 0; i < 4; i++) {
      const [ls, lt] = [levels[i], levels[i + 1]];
      const ratio = f(lt) / f(ls);
      const D = preds[i];
      const terms: [number, Tensor][] = [[ratio, x], [1 - ratio, D]];
      let slope: Tensor | undefined;
      if (i >= 1) {
        const { s1, s2 } = erSdeIntegrals(ls, lt);
        slope = linearCombination([[1 / (ls - levels[i - 1]), D], [-1 / (ls - levels[i - 1]), preds[i - 1]]]);
        terms.push([lt - ls + s1 * f(lt), slope]);
        if (i >= 2) {
          const u = linearCombination([[2 / (ls - levels[i - 2]), slope], [-2 / (ls - levels[i - 2]), slopePrev!]]);
          terms.push([((lt - ls) ** 2) / 2 + s2 * f(lt), u]);
        }
      }
      x = linearCombination(terms);
      slopePrev = slope;
    }
    expect(relL2(r.x.data, x.data)).toBeLessThan(1e-6);
  });
});

function rnd(seed: number): Tensor {
  return new Tensor(DIMS, Float32Array.from(seededNormals(192, seed)));
}

describe('SEEDS-2 and SEEDS-3 (ComfyUI seeds_2, seeds_3)', () => {
  it('at eta 0 are deterministic singlestep exponential integrators of order 2 and 3', async () => {
    expect(Math.abs((await order(() => createSeeds({ stages: 2, eta: 0 }))).slope - 2)).toBeLessThan(0.2);
    // Third order meets float32's floor (1e-7) by 64 steps: measured up to 32.
    expect(Math.abs((await order(() => createSeeds({ stages: 3, eta: 0 }), [4, 8, 16, 32])).slope - 3)).toBeLessThan(0.25);
  });

  it("with the stage at the step's end and the phi_2 rule (ComfyUI exp_heun_2_x0) are second order, and so is phi_1 there", async () => {
    expect(Math.abs((await order(() => createSeeds({ stages: 2, r: 1, solverType: 'phi_2', eta: 0 }))).slope - 2)).toBeLessThan(0.2);
    expect(Math.abs((await order(() => createSeeds({ stages: 2, r: 1, solverType: 'phi_1', eta: 0 }))).slope - 2)).toBeLessThan(0.2);
  });

  it("the Sampler's seeds_2 takes SamplerSEEDS2's r and end rule: r 1, phi_2, eta 0 is exp_heun_2_x0", async () => {
    const sigmas = gridOf('vp', geometricLevels(10, 0.3, 5));
    const x = new Tensor(DIMS, z.map((v) => v * 10));
    const viaSeeds = await runSampler({ solver: createSolver('seeds_2', {}, { seeds_r: 1, seeds_solver_type: 'phi_2', ancestral_eta: 0 }), sigmas, x, model: exactModel(p, 'vp') });
    const heun = await runSampler({ solver: createSolver('exp_heun_2_x0', {}, {}), sigmas, x, model: exactModel(p, 'vp') });
    expect(Array.from(viaSeeds.x.data)).toEqual(Array.from(heun.x.data));
    const plain = await runSampler({ solver: createSolver('seeds_2', {}, { ancestral_eta: 0 }), sigmas, x, model: exactModel(p, 'vp') });
    expect(relL2(plain.x.data, heun.x.data)).toBeGreaterThan(1e-6);
  });

  it('phi_1 at r = 1/2 is the default SEEDS-2, and the options are checked', async () => {
    const sigmas = gridOf('vp', geometricLevels(10, 0.3, 6));
    const x = new Tensor(DIMS, z.map((v) => v * 10));
    const a = await runSampler({ solver: createSeeds({ stages: 2, eta: 0 }), sigmas, x, model: exactModel(p, 'vp') });
    const b = await runSampler({ solver: createSeeds({ stages: 2, r: 0.5, solverType: 'phi_1', eta: 0 }), sigmas, x, model: exactModel(p, 'vp') });
    expect(Array.from(b.x.data)).toEqual(Array.from(a.x.data));
    // phi_2 at r = 1/2 is another second-order rule: a different result on the same grid.
    const c = await runSampler({ solver: createSeeds({ stages: 2, r: 0.5, solverType: 'phi_2', eta: 0 }), sigmas, x, model: exactModel(p, 'vp') });
    expect(relL2(c.x.data, a.x.data)).toBeGreaterThan(1e-6);
    expect(() => createSeeds({ stages: 2, r: 0 })).toThrow(/r must be in \(0, 1\]/);
    expect(() => createSeeds({ stages: 3, r: 1 })).toThrow(/SEEDS-2 only/);
    expect(() => createSeeds({ stages: 2, solverType: 'phi_3' as 'phi_1' })).toThrow(/phi_1 or phi_2/);
  });

  it('draw one noise per stage in sequence (no span: not the Brownian tree), none on the step onto 0', async () => {
    for (const stages of [2, 3] as const) {
      const levels = [...geometricLevels(10, 0.3, 4), 0];
      const noise = spanRecorder(2);
      const model = exactModel(p, 'vp');
      await runSampler({ solver: createSeeds({ stages }), sigmas: gridOf('vp', levels), x: new Tensor(DIMS, z.map((v) => v * 10)), model, noise });
      expect(noise.spans).toEqual(new Array(4 * stages).fill(undefined));
      expect(model.calls).toBe(4 * stages + 1);
    }
  });
});

describe("DDPM posterior sampling (ComfyUI's ddpm)", () => {
  it('is DDIM at eta 1 (the same posterior mean and variance) for the same noise, on any levels', async () => {
    const sigmas = gridOf('vp', geometricLevels(12, 0.3, 9));
    const x = new Tensor(DIMS, z.map((v) => v * 12));
    const a = await runSampler({ solver: createDdpmPosterior(), sigmas, x, model: exactModel(p, 'vp'), noise: spanRecorder(5) });
    const b = await runSampler({ solver: createDdim({ eta: 1 }), sigmas, x, model: exactModel(p, 'vp'), noise: spanRecorder(5) });
    expect(relL2(a.x.data, b.x.data)).toBeLessThan(1e-5);
  });

  it('draws no noise on the step onto 0, where it returns the x0 prediction', async () => {
    const noise = spanRecorder(5);
    const model = exactModel(p, 'vp');
    const r = await runSampler({ solver: createDdpmPosterior(), sigmas: gridOf('vp', [5, 1, 0]), x: new Tensor(DIMS, z.map((v) => v * 5)), model, noise });
    expect(noise.spans.length).toBe(1);
    expect(Array.from(r.x.data)).toEqual(Array.from(r.denoised.data));
  });
});

describe('half-log-SNR levels', () => {
  it('take a flow level below 1 as it is (a shifted grid starts at 0.99997) and only t = 1 at 1 - 1e-4', () => {
    const near = snrLevel('flow', 0.99996667);
    expect(near.lambda).toBeCloseTo(Math.log((1 - 0.99996667) / 0.99996667), 10);
    expect(near.alpha).toBeCloseTo(1 - 0.99996667, 12);
    expect(snrLevel('flow', 1).lambda).toBeCloseTo(Math.log(1e-4 / (1 - 1e-4)), 10);
    expect(snrLevel('vp', 2.5)).toMatchObject({ alpha: 1, rho: 2.5, lambda: -Math.log(2.5) });
    expect(levelOfLambda('flow', snrLevel('flow', 0.3).lambda)).toBeCloseTo(0.3, 12);
    expect(comfySdeMidpoint('flow', 0.99996667, 0.96)).toBeGreaterThan(comfySdeMidpoint('flow', 0.9999, 0.96));
  });
});
