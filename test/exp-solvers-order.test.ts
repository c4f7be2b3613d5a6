import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ParamSpec } from '../nodes/core/types.ts';
import type { SchedulerConfig, Sigmas } from '../nodes/core/values.ts';
import { createDeis } from '../nodes/sampling/deis.ts';
import { createDpmMultistep, dpmMultistepCoefficients } from '../nodes/sampling/dpm-multistep.ts';
import { createDpmSinglestep } from '../nodes/sampling/dpm-singlestep.ts';
import { EXP_INTEGRATOR_SOLVERS, EXP_SOLVER_NAMES, EXP_SOLVER_PARAMS } from '../nodes/sampling/exp-solvers.ts';
import { expLevel } from '../nodes/sampling/lambda.ts';
import type { Solver, SolverState } from '../nodes/sampling/solver.ts';
import { createUniPC, unipcCoefficients } from '../nodes/sampling/unipc.ts';
import {
  BATCH_DIMS,
  denoiseFor,
  exactGrid,
  exactState,
  lambdaUniformLevels,
  ORDER_GRIDS,
  measureOrder,
  NOISE,
  noiseSequence,
  relL2,
  runFromExact,
  startState,
  uniformLevels,
} from './exp-solver-helpers.ts';
import { logLogSlope, SD_VP_DDIM } from './sampling-fake-model.ts';

const fmt = (r: { order: number; errors: number[] }) => `measured ${r.order.toFixed(3)}; errors ${r.errors.map((e) => e.toExponential(2)).join(' ')}`;

describe('DPM-Solver++(3M): the reference update is order 2, the corrected one order 3 (issue 4 item 7)', () => {
  const grids = ORDER_GRIDS.filter((g) => g.name !== 'flow, lambda-uniform');
  for (const g of grids) {
    it(`reference form: order 2 (${g.name})`, async () => {
      // Its order-2 error term is small (h^3 D''/12 per step), so it only dominates on fine grids.
      const r = await measureOrder({ space: g.space, levels: g.levels, steps: [32, 48, 64, 96, 128, 192], make: () => createDpmMultistep({ order: 3, lowerOrderFinal: false }), exactSteps: 2 });
      expect(Math.abs(r.order - 2), fmt(r)).toBeLessThan(0.2);
    });
    it(`corrected form (2*phi3 on D2): order 3 (${g.name})`, async () => {
      const r = await measureOrder({ space: g.space, levels: g.levels, steps: [16, 24, 32, 48, 64], make: () => createDpmMultistep({ order: 3, lowerOrderFinal: false, variant: 'corrected' }), exactSteps: 2 });
      expect(Math.abs(r.order - 3), fmt(r)).toBeLessThan(0.2);
    });
  }

  it('the corrected update equals UniPC\'s order-3 predictor (the unique order-3 exponential multistep weights)', () => {
    // Unequal steps, so r0 != r1: UniP-3 solves its order conditions; 3M-corrected comes from Taylor expansion.
    const [s, t, p1, p2] = [1.7, 1.1, 2.6, 4.5].map((v) => expLevel('vp', v));
    for (const predictX0 of [true, false]) {
      const dpm = dpmMultistepCoefficients({ form: predictX0 ? 'data' : 'noise', solverType: 'midpoint', variant: 'corrected', order: 3, s, t, history: [p1, p2] });
      const uni = unipcCoefficients({ predictX0, variant: 'bh2', order: 3, s, t, history: [p1, p2], corrector: false });
      expect(dpm.x).toBeCloseTo(uni.x, 12);
      for (let k = 0; k < 3; k++) expect(dpm.m[k]).toBeCloseTo(uni.m[k], 12);
      // ... and the reference update does not.
      const ref = dpmMultistepCoefficients({ form: predictX0 ? 'data' : 'noise', solverType: 'midpoint', variant: 'reference', order: 3, s, t, history: [p1, p2] });
      expect(Math.abs(ref.m[2] - uni.m[2])).toBeGreaterThan(1e-4);
    }
  });

  it('on a sampling run the two differ by an O(h^2) amount', async () => {
    // The difference of the two final samples is the accumulated alpha_t phi3 D2 ~ h^3 per step: order 2.
    const steps = [16, 32, 64];
    const diffs: number[] = [];
    for (const n of steps) {
      const levels = lambdaUniformLevels('vp', 5, 0.3, n);
      const sigmas = exactGrid('vp', levels);
      const x0 = startState('vp', levels[0]);
      const a = await runFromExact(createDpmMultistep({ order: 3, lowerOrderFinal: false }), sigmas, x0, denoiseFor('vp'), 2);
      const b = await runFromExact(createDpmMultistep({ order: 3, lowerOrderFinal: false, variant: 'corrected' }), sigmas, x0, denoiseFor('vp'), 2);
      diffs.push(relL2(a, b));
    }
    expect(Math.abs(-logLogSlope(steps, diffs) - 2)).toBeLessThan(0.2);
  });
});

/** Every ODE solver of the catalogue with the order it reaches. */
const ODE_SOLVERS: { name: string; make: () => Solver<SolverState>; order: number; exact: number; steps?: number[] }[] = [
  { name: 'DPM++ 2M', make: () => createDpmMultistep({ lowerOrderFinal: false }), order: 2, exact: 1 },
  { name: 'DPM++ 3M corrected', make: () => createDpmMultistep({ order: 3, lowerOrderFinal: false, variant: 'corrected' }), order: 3, exact: 2 },
  { name: 'DPM-Solver 2M (noise)', make: () => createDpmMultistep({ form: 'noise', lowerOrderFinal: false }), order: 2, exact: 1 },
  { name: 'DPM++ 2S', make: () => createDpmSinglestep({ order: 2 }), order: 2, exact: 0, steps: [12, 18, 24, 36, 48] },
  { name: 'DPM++ 3S', make: () => createDpmSinglestep({ order: 3 }), order: 3, exact: 0, steps: [12, 18, 24, 36, 48] },
  { name: 'UniPC bh2 p2 + corrector', make: () => createUniPC({ lowerOrderFinal: false }), order: 3, exact: 1 },
  { name: 'DEIS-2', make: () => createDeis({ lowerOrderFinal: false }), order: 2, exact: 1 },
  { name: 'DEIS-3', make: () => createDeis({ order: 3, lowerOrderFinal: false }), order: 3, exact: 2 },
];

describe('inversion: the ODE solvers on ascending grids keep their order', () => {
  for (const s of ODE_SOLVERS) {
    it(`${s.name} is order ${s.order} from VE sigma 0.3 up to 5`, async () => {
      const r = await measureOrder({ space: 'vp', levels: (n) => lambdaUniformLevels('vp', 0.3, 5, n), steps: s.steps ?? [16, 24, 32, 48, 64], make: s.make, exactSteps: s.exact });
      expect(Math.abs(r.order - s.order), fmt(r)).toBeLessThan(0.2);
    });
  }

  it('a flow image inverted from t = 0 to t = 1 and sampled back returns (DPM++ 2M, UniPC, DEIS)', async () => {
    const n = 40;
    const up: Sigmas = exactGrid('flow', uniformLevels(0, 1, n));
    const down: Sigmas = exactGrid('flow', uniformLevels(1, 0, n));
    const image = exactState('flow', Float64Array.from(NOISE), 1, 0);
    for (const make of [() => createDpmMultistep({}), () => createUniPC({}), () => createDeis({})]) {
      const noise = await runFromExact(make(), up, image, denoiseFor('flow'), 0);
      expect(noise.every(Number.isFinite)).toBe(true);
      // The exact inversion of this image is the noise it came from.
      expect(relL2(noise, NOISE)).toBeLessThan(0.05);
      const back = await runFromExact(make(), down, Float64Array.from(noise), denoiseFor('flow'), 0);
      expect(relL2(back, image)).toBeLessThan(0.05);
    }
  });
});

describe('grids with infinite-lambda ends (flow t = 1 and sigma 0): every catalogue solver', () => {
  const cfg: SchedulerConfig = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3 };
  const shifted = (n: number) => uniformLevels(1, 0, n).map((t) => (3 * t) / (1 + 2 * t));
  for (const name of EXP_SOLVER_NAMES) {
    it(`${name}: finite, and converging to the exact PF-ODE endpoint from t = 1 to 0`, async () => {
      const entry = EXP_INTEGRATOR_SOLVERS[name];
      const errors: number[] = [];
      const steps = [10, 20, 40];
      for (const n of steps) {
        const sigmas = exactGrid('flow', shifted(n));
        const solver = entry.create(entry.optionsFromConfig(cfg, {}));
        const noise = noiseSequence(n, 77);
        const out = await runFromExact(solver, sigmas, Float64Array.from(NOISE), denoiseFor('flow'), 0, noise.source);
        expect(out.every(Number.isFinite)).toBe(true);
        errors.push(relL2(out, exactState('flow', Float64Array.from(NOISE), 1, 0)));
      }
      if (name === 'dpmpp_2m_sde') {
        // A different noise path: only a sample of the same data; check it is data-like, not the ODE endpoint.
        expect(errors[2]).toBeLessThan(2);
        return;
      }
      // At least first-order convergence (the steps from t = 1 and onto 0 are first order by construction).
      expect(errors[2], errors.map((e) => e.toExponential(2)).join(' ')).toBeLessThan(errors[0] / 3);
      expect(errors[2]).toBeLessThan(0.1);
    });
  }
});

describe('the catalogue (exp-solvers.ts)', () => {
  it('has every issue-4 name, each building a solver from a scheduler config', () => {
    expect([...EXP_SOLVER_NAMES].sort()).toEqual(['deis', 'dpm_1s', 'dpm_2m', 'dpm_2s', 'dpm_3s', 'dpmpp_2m', 'dpmpp_2m_sde', 'dpmpp_3m', 'unipc'].sort());
    for (const name of EXP_SOLVER_NAMES) {
      const e = EXP_INTEGRATOR_SOLVERS[name];
      expect(e.description.length).toBeGreaterThan(10);
      const solver = e.create(e.optionsFromConfig(SD_VP_DDIM, {}));
      expect(solver.nfePerStep).toBe(1);
      const x = new Tensor(BATCH_DIMS);
      const sigmas: Sigmas = { space: 'vp', sigmas: [5, 1, 0], timesteps: [900, 400] };
      expect(solver.init({ sigmas, noise: noiseSequence(2, 1).source }, x).x).toBe(x);
    }
  });

  it('declares params whose defaults are valid, sharing one spec per name', () => {
    for (const name of EXP_SOLVER_NAMES) {
      for (const [p, spec] of Object.entries(EXP_INTEGRATOR_SOLVERS[name].params ?? {})) {
        expect(spec).toBe((EXP_SOLVER_PARAMS as Record<string, ParamSpec>)[p]);
        if (spec.kind === 'enum') expect(spec.options).toContain(spec.default);
      }
    }
  });

  it('reads diffusers config keys (keys present win, class defaults otherwise)', () => {
    const dpmCfg: SchedulerConfig = { _class_name: 'DPMSolverMultistepScheduler', solver_type: 'heun', lower_order_final: false, euler_at_final: true, thresholding: true, dynamic_thresholding_ratio: 0.9, sample_max_value: 2 };
    expect(EXP_INTEGRATOR_SOLVERS.dpmpp_2m.optionsFromConfig(dpmCfg)).toMatchObject({ form: 'data', order: 2, solverType: 'heun', lowerOrderFinal: false, eulerAtFinal: true, thresholding: { ratio: 0.9, maxValue: 2 } });
    expect(EXP_INTEGRATOR_SOLVERS.dpmpp_3m.optionsFromConfig({})).toMatchObject({ order: 3, variant: 'reference', lowerOrderFinal: true, solverType: 'midpoint' });
    expect(EXP_INTEGRATOR_SOLVERS.dpm_2m.optionsFromConfig({})).toMatchObject({ form: 'noise', order: 2 });
    // Singlestep: lower_order_final defaults to false; algorithm_type picks the form.
    expect(EXP_INTEGRATOR_SOLVERS.dpm_3s.optionsFromConfig({ algorithm_type: 'dpmsolver' })).toMatchObject({ order: 3, form: 'noise', lowerOrderFinal: false, placement: 'diffusers' });
    // UniPC/DEIS take solver_order from the config; UniPC maps a DPM solver_type to bh2 as diffusers does.
    expect(EXP_INTEGRATOR_SOLVERS.unipc.optionsFromConfig({ solver_order: 3, solver_type: 'midpoint', disable_corrector: [0], predict_x0: false })).toMatchObject({ order: 3, variant: 'bh2', disableCorrector: [0], predictX0: false, corrector: true });
    expect(EXP_INTEGRATOR_SOLVERS.deis.optionsFromConfig({ solver_order: 3 })).toMatchObject({ order: 3, lowerOrderFinal: true });
    expect(EXP_INTEGRATOR_SOLVERS.dpmpp_2m.optionsFromConfig({ solver_type: 'bh2' })).toMatchObject({ solverType: 'midpoint' });
  });

  it('applies node overrides ("config" keeps the config value; unknown keys are ignored)', () => {
    const cfg: SchedulerConfig = { solver_type: 'heun', lower_order_final: false, solver_order: 2 };
    const o = { dpm_solver_type: 'midpoint', lower_order_final: 'on', euler_at_final: 'config', dpm3m_variant: 'corrected', steps: 20, seed: 3 };
    expect(EXP_INTEGRATOR_SOLVERS.dpmpp_3m.optionsFromConfig(cfg, o)).toMatchObject({ solverType: 'midpoint', lowerOrderFinal: true, eulerAtFinal: false, variant: 'corrected' });
    expect(EXP_INTEGRATOR_SOLVERS.unipc.optionsFromConfig(cfg, { unipc_order: '3', unipc_variant: 'bh1', unipc_corrector: 'off', unipc_disable_corrector: '0, 2', unipc_form: 'noise' })).toMatchObject({
      order: 3,
      variant: 'bh1',
      corrector: false,
      disableCorrector: [0, 2],
      predictX0: false,
    });
    expect(EXP_INTEGRATOR_SOLVERS.deis.optionsFromConfig(cfg, { deis_order: '1' })).toMatchObject({ order: 1 });
    expect(EXP_INTEGRATOR_SOLVERS.dpm_2s.optionsFromConfig(SD_VP_DDIM, { singlestep_placement: 'official', dpm_form: 'noise' })).toMatchObject({ placement: 'official', form: 'noise' });
  });

  it('rejects bad overrides and config values with the option named', () => {
    expect(() => EXP_INTEGRATOR_SOLVERS.dpmpp_2m.optionsFromConfig({}, { dpm_solver_type: 'rk4' })).toThrow(/dpm_solver_type.*midpoint, heun/);
    expect(() => EXP_INTEGRATOR_SOLVERS.unipc.optionsFromConfig({}, { unipc_disable_corrector: '1, x' })).toThrow(/unipc_disable_corrector.*"x"/);
    expect(() => EXP_INTEGRATOR_SOLVERS.dpmpp_2m.optionsFromConfig({ lower_order_final: 'yes' })).toThrow(/"lower_order_final" must be true or false/);
    expect(() => EXP_INTEGRATOR_SOLVERS.deis.optionsFromConfig({ solver_order: 4 })).toThrow(/"solver_order" must be 1, 2 or 3/);
    expect(() => EXP_INTEGRATOR_SOLVERS.dpm_2s.optionsFromConfig({ algorithm_type: 'sde-dpmsolver++' })).toThrow(/dpmpp_2m_sde/);
    expect(() => createDpmMultistep({ order: 4 })).toThrow(/DPM-Solver\+\+ multistep: order must be an integer in \[1, 3\]/);
    expect(() => createUniPC({ variant: 'bh3' as 'bh1' })).toThrow(/UniPC: variant/);
  });

  it('refuses a non-monotone grid, naming the solver', () => {
    const zigzag: Sigmas = { space: 'vp', sigmas: [5, 1, 3], timesteps: [900, 400] };
    expect(() => createUniPC().init({ sigmas: zigzag }, new Tensor(BATCH_DIMS))).toThrow(/UniPC: the sigma grid must be monotone/);
    expect(() => createDeis().init({ sigmas: zigzag }, new Tensor(BATCH_DIMS))).toThrow(/DEIS: the sigma grid must be monotone/);
  });
});
