import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { SchedulerConfig } from '../nodes/core/values.ts';
import { createDeis, deisCoefficients, type DeisOptions } from '../nodes/sampling/deis.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { expLevel } from '../nodes/sampling/lambda.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import {
  BATCH_DIMS,
  GAUSS,
  lambdaUniformLevels,
  measureOrder,
  multistepTimesteps,
  NOISE,
  relL2,
  tableGrid,
  uniformLevels,
  vpStartToState,
  lin,
  type Vec,
} from './exp-solver-helpers.ts';
import { fakeVpModel, SD_VP_DDIM, type FakeModel } from './sampling-fake-model.ts';


/** diffusers DEISMultistepScheduler (log-rho) in VP variables, with its ind_fn closed forms. */
async function diffusersDeis(model: FakeModel, cfg: SchedulerConfig, order: number, lowerOrderFinal: boolean, timesteps: number[], sigmas: number[], x: Vec): Promise<Vec> {
  const as = (s: number): [number, number] => [1 / Math.sqrt(s * s + 1), s / Math.sqrt(s * s + 1)];
  const outputs: Vec[] = [];
  let lowerOrderNums = 0;
  const N = timesteps.length;
  const L = Math.log;
  const ind2 = (t: number, b: number, c: number) => (t * (-L(c) + L(t) - 1)) / (L(b) - L(c));
  const ind3 = (t: number, b: number, c: number, d: number) => (t * (L(c) * (L(d) - L(t) + 1) - L(d) * L(t) + L(d) + L(t) ** 2 - 2 * L(t) + 2)) / ((L(b) - L(c)) * (L(b) - L(d)));
  for (let i = 0; i < N; i++) {
    const raw = await model.denoiser.run({
      sample: { dims: BATCH_DIMS, data: Float32Array.from(x), type: 'float32' },
      timestep: { dims: [1], data: Float32Array.of(timesteps[i]), type: 'float32' },
    });
    const out = Float64Array.from(raw.out_sample.data);
    const [a, s] = as(sigmas[i]);
    const x0 = cfg.prediction_type === 'v_prediction' ? lin([[a, x], [-s, out]]) : lin([[1 / a, x], [-s / a, out]]);
    outputs.push(lin([[1 / s, x], [-a / s, x0]]));
    const lowerFinal = i === N - 1 && lowerOrderFinal && N < 15;
    const lowerSecond = i === N - 2 && lowerOrderFinal && N < 15;
    const [aT, sT] = as(sigmas[i + 1]);
    const rho = (k: number) => as(sigmas[k])[1] / as(sigmas[k])[0];
    const rhoT = sT / aT;
    const m = (k: number) => outputs[outputs.length - 1 - k];
    if (order === 1 || lowerOrderNums < 1 || lowerFinal) {
      const h = L(aT) - L(sT) - (L(a) - L(s));
      x = lin([[aT / a, x], [-(sT * (Math.exp(h) - 1)), m(0)]]);
    } else if (order === 2 || lowerOrderNums < 2 || lowerSecond) {
      const [r0, r1] = [rho(i), rho(i - 1)];
      const c1 = ind2(rhoT, r0, r1) - ind2(r0, r0, r1);
      const c2 = ind2(rhoT, r1, r0) - ind2(r0, r1, r0);
      x = lin([[aT / a, x], [aT * c1, m(0)], [aT * c2, m(1)]]);
    } else {
      const [r0, r1, r2] = [rho(i), rho(i - 1), rho(i - 2)];
      const c1 = ind3(rhoT, r0, r1, r2) - ind3(r0, r0, r1, r2);
      const c2 = ind3(rhoT, r1, r2, r0) - ind3(r0, r1, r2, r0);
      const c3 = ind3(rhoT, r2, r0, r1) - ind3(r0, r2, r0, r1);
      x = lin([[aT / a, x], [aT * c1, m(0)], [aT * c2, m(1)], [aT * c3, m(2)]]);
    }
    if (lowerOrderNums < order) lowerOrderNums++;
  }
  return x;
}

describe('DEIS matches diffusers DEISMultistepScheduler (VP-variable reference)', () => {
  // DEIS grids always end at sigma_min (fact sheet section 2).
  const cases: { name: string; order: number; opts: DeisOptions; steps: number; lof: boolean; cfg: SchedulerConfig }[] = [
    { name: 'order 2, 10 steps (lower_order_final)', order: 2, opts: {}, steps: 10, lof: true, cfg: SD_VP_DDIM },
    { name: 'order 3, 12 steps', order: 3, opts: { order: 3 }, steps: 12, lof: true, cfg: SD_VP_DDIM },
    { name: 'order 3, 20 steps, v-prediction', order: 3, opts: { order: 3 }, steps: 20, lof: true, cfg: { ...SD_VP_DDIM, prediction_type: 'v_prediction' } },
    { name: 'order 3, lower_order_final off, 8 steps', order: 3, opts: { order: 3, lowerOrderFinal: false }, steps: 8, lof: false, cfg: SD_VP_DDIM },
    { name: 'order 1, 6 steps', order: 1, opts: { order: 1 }, steps: 6, lof: true, cfg: SD_VP_DDIM },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const ts = multistepTimesteps(c.steps);
      const sigmas = tableGrid(c.cfg, ts, 'sigma_min');
      const model = fakeVpModel(GAUSS, c.cfg);
      const r = await runSampler({ solver: createDeis(c.opts), sigmas, x: new Tensor(BATCH_DIMS, vpStartToState(NOISE, sigmas.sigmas[0])), model: createDenoiseFn(model, { space: 'vp' }) });
      const sEnd = sigmas.sigmas[c.steps];
      const expected = await diffusersDeis(fakeVpModel(GAUSS, c.cfg), c.cfg, c.order, c.lof, ts, sigmas.sigmas, Float64Array.from(NOISE));
      expect(relL2(r.x.data.map((v) => v / Math.sqrt(sEnd * sEnd + 1)), expected)).toBeLessThan(2e-6);
      expect(model.seen).toEqual(ts);
    });
  }

  it('the weights integrate the Lagrange basis in ln rho exactly (quadrature check)', () => {
    // c_j = int_{rho_s}^{rho_t} L_j(ln rho) d rho, checked against Simpson's rule on a fine partition.
    const [s, p1, p2, t] = [2.0, 2.7, 3.5, 1.4].map((v) => expLevel('vp', v));
    const rhos = [s, p1, p2].map((l) => l.sigma / l.alpha);
    const basis = (j: number, r: number) => {
      let v = 1;
      for (let k = 0; k < 3; k++) if (k !== j) v *= (Math.log(r) - Math.log(rhos[k])) / (Math.log(rhos[j]) - Math.log(rhos[k]));
      return v;
    };
    const simpson = (f: (r: number) => number, a: number, b: number, n = 2000) => {
      const h = (b - a) / n;
      let acc = f(a) + f(b);
      for (let k = 1; k < n; k++) acc += (k % 2 ? 4 : 2) * f(a + k * h);
      return (acc * h) / 3;
    };
    const c = deisCoefficients(3, s, t, [p1, p2]);
    const rt = t.sigma / t.alpha;
    for (let j = 0; j < 3; j++) expect(c[j]).toBeCloseTo(simpson((r) => basis(j, r), rhos[0], rt), 10);
  });
});

describe('DEIS convergence order against the closed-form PF-ODE (started from exact history, stopped above sigma 0)', () => {
  const STEPS = [16, 24, 32, 48, 64];
  const grids = [
    { name: 'VP, lambda-uniform', space: 'vp' as const, levels: (n: number) => lambdaUniformLevels('vp', 5, 0.3, n) },
    { name: 'flow, lambda-uniform', space: 'flow' as const, levels: (n: number) => lambdaUniformLevels('flow', 0.83, 0.23, n) },
    { name: 'flow, t-uniform', space: 'flow' as const, levels: (n: number) => uniformLevels(0.83, 0.23, n) },
  ];
  for (const g of grids) {
    for (const order of [1, 2, 3]) {
      it(`DEIS-${order} is order ${order} (${g.name})`, async () => {
        const r = await measureOrder({ space: g.space, levels: g.levels, steps: STEPS, make: () => createDeis({ order, lowerOrderFinal: false }), exactSteps: order - 1 });
        expect(Math.abs(r.order - order), `measured ${r.order.toFixed(3)}; errors ${r.errors.map((e) => e.toExponential(2)).join(' ')}`).toBeLessThan(0.2);
      });
    }
  }
});
