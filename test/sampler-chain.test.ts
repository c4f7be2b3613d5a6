import { describe, expect, it } from 'vitest';
import { paramDefaults } from '../nodes/core/params.ts';
import { SeededNormal } from '../nodes/core/random.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import type { ModelHandle, Sigmas } from '../nodes/core/values.ts';
import { Sampler } from '../nodes/sampler.ts';
import { createDdim } from '../nodes/sampling/ddim.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { createGaussianParams, sampleData, transportExact } from '../nodes/sampling/gaussian.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { buildSigmas, initNoiseSigma } from '../nodes/sampling/schedules.ts';
import { splitSigmasAt } from '../nodes/sampling/sigmas-split.ts';
import { img2imgSigmas, noisedStart } from '../nodes/sampling/add-noise.ts';
import { createSolver, SOLVER_NAMES, SOLVERS, solverParamSpecs } from '../nodes/sampling/solver-registry.ts';
import { fakeFlowModel, fakeVpModel, FLOW_MATCH_SHIFT3, relL2, SD_VP_DDIM } from './sampling-fake-model.ts';

const p = createGaussianParams({ dims: [3, 8, 8], seed: 5 });
const DIMS = [1, 3, 8, 8];
const SIZE = 192;

function context(): ExecContext & { steps: number[] } {
  const steps: number[] = [];
  return { ...fakeExecContext({ progress: (step) => steps.push(step) }), steps };
}

type Params = Parameters<typeof Sampler.execute>[2];
type Inputs = Parameters<typeof Sampler.execute>[1];

function sample(model: ModelHandle, params: Partial<Params>, inputs: Partial<Inputs> = {}) {
  return Sampler.execute(
    context(),
    { model, latent: Tensor.zeros(DIMS), noise: undefined, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined, ...inputs },
    { ...(paramDefaults(Sampler) as Params), ...params },
  );
}

/** VE level -> VP scale. */
const alpha = (s: number) => 1 / Math.sqrt(s * s + 1);

describe('Sampler: solver catalogue', () => {
  it('offers every registered solver and shows each solver option only for the solvers that read it', () => {
    const expected = ['ddim', 'pndm', 'ddpm', 'euler', 'euler_ancestral', 'heun', 'dpm_2', 'dpm_2_ancestral', 'dpmpp_2s_ancestral', 'dpmpp_sde', 'ipndm', 'ipndm_v', 'res_multistep', 'res_multistep_ancestral', 'deis_tab', 'gradient_estimation', 'heunpp2', 'lms', 'dpmpp_2m', 'dpmpp_3m', 'dpmpp_2m_sde', 'dpm_1s', 'dpm_2s', 'dpm_3s', 'dpm_2m', 'unipc', 'deis', 'dpmpp_3m_sde', 'er_sde', 'seeds_2', 'seeds_3', 'exp_heun_2_x0', 'exp_heun_2_x0_sde', 'flow_euler', 'rf_solver', 'mrs', 'lcm', 'tcd', 'scm', 'consistency', 'cm_stochastic', 'ddpm_posterior', 'dpm_fast', 'dpm_adaptive', 'sa_solver', 'sa_solver_pece', 'euler_cfg_pp', 'euler_ancestral_cfg_pp', 'dpmpp_2m_cfg_pp', 'dpmpp_2s_ancestral_cfg_pp', 'res_multistep_cfg_pp', 'res_multistep_ancestral_cfg_pp', 'gradient_estimation_cfg_pp', 'cfgpp_ud10_ab'];
    expect(Sampler.params.solver.options).toEqual(['auto', ...SOLVER_NAMES]); // auto: the scheduler config's own
    expect([...SOLVER_NAMES].sort()).toEqual([...expected].sort());
    const declared = Sampler.params as Record<string, { when?: { param: string; in: readonly unknown[] } }>;
    for (const [name, spec] of Object.entries(solverParamSpecs())) {
      expect(declared[name], `Sampler declares solver param "${name}"`).toBeDefined();
      expect(declared[name].when).toEqual(spec.when);
      for (const solver of spec.when!.in) expect(SOLVERS[solver as string].params?.[name]).toBeDefined();
    }
    expect(declared.s_churn.when?.in).toEqual(['euler']);
    expect(declared.seeds_r.when?.in).toEqual(['seeds_2']);
    expect(declared.seeds_solver_type.when?.in).toEqual(['seeds_2']);
    for (const name of ['er_sde_type', 'er_sde_eta', 'er_sde_max_stage']) expect(declared[name].when?.in).toEqual(['er_sde']);
    expect(declared.dpmpp_sde_r.when?.in).toEqual(['dpmpp_sde']);
    for (const name of ['sa_eta', 'sa_sde_start', 'sa_sde_end', 'sa_predictor_order', 'sa_corrector_order', 'sa_simple_order_2']) expect(declared[name].when?.in).toEqual(['sa_solver', 'sa_solver_pece']);
    for (const name of ['adaptive_order', 'adaptive_rtol', 'adaptive_atol', 'adaptive_h_init', 'adaptive_pcoeff', 'adaptive_icoeff', 'adaptive_dcoeff', 'adaptive_accept_safety', 'adaptive_eta']) {
      expect(declared[name].when?.in).toEqual(['dpm_adaptive']);
    }
    const ancestralCfgPp = ['euler_ancestral_cfg_pp', 'dpmpp_2s_ancestral_cfg_pp', 'res_multistep_ancestral_cfg_pp'];
    expect(declared.s_noise.when?.in).toEqual(['euler', 'euler_ancestral', 'dpm_2_ancestral', 'dpmpp_2s_ancestral', 'dpmpp_sde', 'res_multistep_ancestral', 'dpmpp_2m_sde', 'dpmpp_3m_sde', 'er_sde', 'seeds_2', 'seeds_3', 'exp_heun_2_x0_sde', 'dpm_adaptive', 'sa_solver', 'sa_solver_pece', ...ancestralCfgPp]);
    expect(declared.ancestral_eta.when?.in).toEqual(['euler_ancestral', 'dpm_2_ancestral', 'dpmpp_2s_ancestral', 'dpmpp_sde', 'res_multistep_ancestral', 'dpmpp_2m_sde', 'dpmpp_3m_sde', 'seeds_2', 'seeds_3', 'exp_heun_2_x0_sde', ...ancestralCfgPp]);
  });
});

describe('Sampler: chaining over SplitSigmas ranges (per-step solver schedules)', () => {
  const model = () => fakeVpModel(p);
  const full = buildSigmas(SD_VP_DDIM, fakeVpModel(p).modelIndex, 20, 'ddim');
  const { high, low } = splitSigmasAt(full, 8);

  it('DDIM(high) then DDIM(low, continue) equals one full DDIM run', async () => {
    const whole = await sample(model(), { solver: 'ddim', seed: 4 }, { sigmas: full });
    const a = await sample(model(), { solver: 'ddim', seed: 4, start: 'noise' }, { sigmas: high });
    const b = await sample(model(), { solver: 'ddim', seed: 99, start: 'continue', record_trajectory: true }, { sigmas: low, latent: a.latent });
    expect(relL2(b.latent.data, whole.latent.data)).toBeLessThan(1e-6);
    expect(b.trajectory.sigmas[0]).toBe(a.trajectory.sigmas[a.trajectory.sigmas.length - 1]);
  });

  it('DDIM(high) then DPM++ 2M(low) equals the two halves run by hand', async () => {
    const a = await sample(model(), { solver: 'ddim', seed: 4, start: 'noise' }, { sigmas: high });
    const b = await sample(model(), { solver: 'dpmpp_2m', start: 'continue' }, { sigmas: low, latent: a.latent });
    // By hand: the seed's noise at init_noise_sigma, DDIM over steps 0..7, DPM++ 2M over 8..19 (told it is
    // the tail of a 20-step schedule, as diffusers would count it).
    const noise = new Tensor(DIMS);
    new SeededNormal(4).fill(noise.data);
    const fn = createDenoiseFn(model(), { space: 'vp' });
    const x = new Tensor(DIMS, noise.data.map((v) => v * initNoiseSigma(high, SD_VP_DDIM)));
    const h = await runSampler({ solver: createDdim(), sigmas: high, x, model: fn });
    const l = await runSampler({ solver: createSolver('dpmpp_2m', SD_VP_DDIM, {}, { scheduleSteps: 20 }), sigmas: low, x: h.x, model: fn });
    const last = low.sigmas[low.sigmas.length - 1];
    expect(relL2(b.latent.data, l.x.data.map((v) => v * alpha(last)))).toBeLessThan(1e-6);
    // And the chain solves the same ODE: close to the exact transport of the start noise.
    const s0 = high.sigmas[0];
    const exact = transportExact(p, Float64Array.from(x.data), 1, s0, 1, last).map((v) => v * alpha(last));
    // (20 steps to sigma 0 on time-uniform grids: ~0.09 for DDIM alone, dominated by the last steps.)
    expect(relL2(b.latent.data, exact)).toBeLessThan(0.15);
  });

  it('a multistep head keeps its place in the schedule: no end-of-schedule rule fires at the split', async () => {
    // DPM++ 2M on 12 steps (< 15: lower_order_final on), split after 5, as SDXL's base + refiner runs it.
    const grid = buildSigmas(SD_VP_DDIM, fakeVpModel(p).modelIndex, 12, 'dpmpp_2m');
    const parts = splitSigmasAt(grid, 5);
    const a = await sample(model(), { solver: 'dpmpp_2m', seed: 4, start: 'noise' }, { sigmas: parts.high });
    const noise = new Tensor(DIMS);
    new SeededNormal(4).fill(noise.data);
    const x = new Tensor(DIMS, noise.data.map((v) => v * initNoiseSigma(parts.high, SD_VP_DDIM)));
    const fn = createDenoiseFn(model(), { space: 'vp' });
    const head = (schedule: Record<string, unknown>) => runSampler({ solver: createSolver('dpmpp_2m', SD_VP_DDIM, {}, schedule), sigmas: parts.high, x, model: fn });
    const placed = await head({ scheduleSteps: 12, scheduleStart: 0 });
    // Run as a 5-step schedule of its own, its last step would be first order (lower_order_final).
    const alone = await head({});
    const at = alpha(parts.high.sigmas[5]);
    expect(relL2(a.latent.data, placed.x.data.map((v) => v * at))).toBeLessThan(1e-6);
    expect(relL2(a.latent.data, alone.x.data.map((v) => v * at))).toBeGreaterThan(1e-4);
  });
});

describe('Sampler: start modes', () => {
  it('continue adds no noise: the seed does not matter and the run equals the solver from latent / alpha', async () => {
    const full = buildSigmas(SD_VP_DDIM, fakeVpModel(p).modelIndex, 20, 'ddim');
    const { low } = splitSigmasAt(full, 10);
    const latent = new Tensor(DIMS, Float32Array.from(sampleData(p, 1, 3)));
    const a = await sample(fakeVpModel(p), { solver: 'euler', seed: 1, start: 'continue' }, { sigmas: low, latent });
    const b = await sample(fakeVpModel(p), { solver: 'euler', seed: 2, start: 'continue' }, { sigmas: low, latent });
    expect([...a.latent.data]).toEqual([...b.latent.data]);
    const s0 = low.sigmas[0];
    const r = await runSampler({ solver: createSolver('euler'), sigmas: low, x: new Tensor(DIMS, latent.data.map((v) => v / alpha(s0))), model: createDenoiseFn(fakeVpModel(p), { space: 'vp' }) });
    const last = low.sigmas[low.sigmas.length - 1];
    expect(relL2(a.latent.data, r.x.data.map((v) => v * alpha(last)))).toBeLessThan(1e-6);
  });

  it('img2img noises the latent to the start level (x0 + s noise in VE); noise ignores the latent', async () => {
    const latent = new Tensor(DIMS, Float32Array.from(sampleData(p, 1, 3)));
    const img = await sample(fakeVpModel(p), { start: 'img2img', denoise: 0.5, steps: 10, record_trajectory: true }, { latent });
    const noise = new Tensor(DIMS);
    new SeededNormal(0).fill(noise.data);
    const s0 = img.trajectory.sigmas[0];
    expect(img.trajectory.sigmas.length).toBe(6);
    expect(relL2(img.trajectory.states[0].data, latent.data.map((v, k) => (v + s0 * noise.data[k]) * alpha(s0)))).toBeLessThan(1e-6);
    const pure = await sample(fakeVpModel(p), { start: 'noise', denoise: 0.5, steps: 10 }, { latent });
    const pure0 = await sample(fakeVpModel(p), { start: 'noise', steps: 10 });
    expect([...pure.latent.data]).toEqual([...pure0.latent.data]);
    // auto = img2img below denoise 1.
    const auto = await sample(fakeVpModel(p), { denoise: 0.5, steps: 10 }, { latent });
    expect([...auto.latent.data]).toEqual([...img.latent.data]);
  });
});

describe('Sampler: noise sequences and trajectory', () => {
  const cfg = { ...SD_VP_DDIM, _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'linspace', steps_offset: 0 };

  it('a [K, ...latent] NOISE gives the initial noise and then the step noises, in the order they are drawn', async () => {
    const steps = 6; // euler_ancestral to sigma 0 draws one noise per step but the last: 5
    const seeded = await sample(fakeVpModel(p, cfg), { solver: 'euler_ancestral', steps, seed: 11 });
    // The same numbers, given explicitly: the seeded stream is initial noise, then the step draws.
    const stream = new Tensor([steps, ...DIMS]);
    new SeededNormal(11).fill(stream.data);
    const explicit = await sample(fakeVpModel(p, cfg), { solver: 'euler_ancestral', steps, seed: 0 }, { noise: stream });
    expect([...explicit.latent.data]).toEqual([...seeded.latent.data]);
    // Different step noises change the result; too few slices is an error naming the count.
    const other = stream.clone();
    other.data.fill(0.5, 2 * SIZE, 3 * SIZE);
    const changed = await sample(fakeVpModel(p, cfg), { solver: 'euler_ancestral', steps }, { noise: other });
    expect(relL2(changed.latent.data, seeded.latent.data)).toBeGreaterThan(1e-4);
    const short = new Tensor([3, ...DIMS], stream.data.slice(0, 3 * SIZE));
    await expect(sample(fakeVpModel(p, cfg), { solver: 'euler_ancestral', steps }, { noise: short })).rejects.toThrow(/2 the noise input holds/);
    await expect(sample(fakeVpModel(p, cfg), { solver: 'euler_ancestral', steps }, { noise: new Tensor([2, 1, 3, 8, 7]) })).rejects.toThrow(/fits neither/);
  });

  it('the trajectory holds every level, the start and each state in model variables, and each x0 prediction', async () => {
    const out = await sample(fakeVpModel(p), { solver: 'ddim', steps: 7, seed: 5, record_trajectory: true });
    const t = out.trajectory;
    expect(t.sigmas.length).toBe(8);
    expect(t.states.length).toBe(8);
    expect(t.denoised.length).toBe(7);
    const noise = new Tensor(DIMS);
    new SeededNormal(5).fill(noise.data);
    // DDIM starts from randn in VP variables (init_noise_sigma 1 in VP terms).
    expect(relL2(t.states[0].data, noise.data)).toBeLessThan(1e-6);
    expect([...t.states[7].data]).toEqual([...out.latent.data]);
    expect([...t.denoised[6].data]).toEqual([...out.denoised.data]);
    const lean = await sample(fakeVpModel(p), { solver: 'ddim', steps: 7, seed: 5 });
    expect(lean.trajectory.states.length).toBe(1);
    expect([...lean.latent.data]).toEqual([...out.latent.data]);
  });
});

describe('Sampler: every solver on the Gaussian models', () => {
  /** Sampler latent vs the exact transport of its own start state, both in model variables. */
  async function samplerError(model: ModelHandle, solver: string, steps: number): Promise<number> {
    const out = await sample(model, { solver, steps, seed: 2, record_trajectory: true });
    const t = out.trajectory;
    const space = model.scheduler._class_name === 'FlowMatchEulerDiscreteScheduler' ? 'flow' : 'vp';
    const [s0, s1] = [t.sigmas[0], t.sigmas[t.sigmas.length - 1]];
    const start = Float64Array.from(t.states[0].data);
    const exact =
      space === 'flow'
        ? transportExact(p, start, 1 - s0, s0, 1 - s1, s1)
        : transportExact(p, start.map((v) => v / alpha(s0)), 1, s0, 1, s1).map((v) => v * alpha(s1));
    return relL2(out.latent.data, exact);
  }

  for (const name of SOLVER_NAMES) {
    const entry = SOLVERS[name];
    // A solver for one model class (cm_stochastic: consistency models) is run on such models in test/cm.test.ts
    // and the diffusers parity cases.
    if (entry.modelClass) continue;
    // With its default options (eta 0, churn 0) a solver is deterministic unless it is an SDE/ancestral one.
    // SA-Solver's SDE interval comes from the Sampler (the model's schedule): pass one as it does.
    const stochastic = createSolver(name, SD_VP_DDIM, {}, { tauInterval: { start: Infinity, end: 0 } }).stochastic === true;
    it(`${name} runs and ${stochastic ? 'gives a finite sample' : 'approximates the exact solution'} (20 steps, diffusers grid)`, async () => {
      for (const space of ['vp', 'flow'] as const) {
        if (entry.spaces && !entry.spaces.includes(space)) continue;
        const model = space === 'vp' ? fakeVpModel(p) : fakeFlowModel(p, FLOW_MATCH_SHIFT3);
        const err = await samplerError(model, name, 20);
        if (stochastic) expect(Number.isFinite(err)).toBe(true);
        // The diffusers grids end with a large jump to sigma 0 that bounds every solver's error (~0.05-0.2 here,
        // see reports/solvers.md); a wiring error (start scale, variables, grid) shows up as an error of order 1.
        // ComfyUI's res_multistep takes lambda = -ln t on flow models, so from t = 1 its few-step runs stray
        // (0.38 at 20 steps, 0.11 at 40, then order 2), as ComfyUI's own do (comfyui-parity run-rf-res_multistep).
        else expect(err, `${name} on ${space}`).toBeLessThan(name.startsWith('res_multistep') && space === 'flow' ? 0.45 : 0.25);
      }
    });
  }

  it('rejects solvers the model space does not support, naming both', async () => {
    await expect(sample(fakeVpModel(p), { solver: 'flow_euler' })).rejects.toThrow(/flow models only.*"vp"/);
    await expect(sample(fakeFlowModel(p), { solver: 'mrs' })).rejects.toThrow(/vp models only.*"flow"/);
    // ComfyUI's VE-formula samplers run flow models only on a Schedule (ComfyUI) grid (comfyui-parity run-rf-*).
    for (const solver of ['dpm_fast', 'dpm_adaptive', 'ddpm_posterior', 'res_multistep_ancestral', 'dpmpp_2m_cfg_pp']) {
      await expect(sample(fakeFlowModel(p), { solver }), solver).rejects.toThrow(/vp models only, and flow models on a Schedule \(ComfyUI\) grid.*"flow"/);
    }
  });

  it('an int64 timestep input gets integer timesteps, also from solvers that evaluate between grid levels', async () => {
    const cfg = { ...SD_VP_DDIM, _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'linspace', steps_offset: 0 };
    const model = fakeVpModel(p, cfg, { timestepType: 'int64' });
    await sample(model, { solver: 'euler', steps: 5, s_churn: 2 });
    expect(model.seen.length).toBe(5);
    expect(model.seen.every(Number.isInteger)).toBe(true);
    // Churned levels sit above the grid: their timesteps come from the model's training table.
    const sigmas: Sigmas = buildSigmas(cfg, model.modelIndex, 5, 'euler');
    expect(model.seen[1]).toBeGreaterThan(Math.trunc(sigmas.timesteps[1]));
  });
});

describe('Sampler: diffusers end-of-run and img2img details', () => {
  const latent = new Tensor(DIMS, Float32Array.from({ length: SIZE }, (_, k) => 0.3 * Math.sin(k)));
  const noise = new Tensor(DIMS, Float32Array.from({ length: SIZE }, (_, k) => Math.cos(3 * k)));

  it('img2img with LMS hands the solver the skipped levels (diffusers step_index k), unlike a run on the tail alone', async () => {
    const cfg = { ...SD_VP_DDIM, _class_name: 'LMSDiscreteScheduler', timestep_spacing: 'linspace', steps_offset: 0 };
    const out = await sample(fakeVpModel(p, cfg), { solver: 'lms', steps: 10, start: 'img2img', denoise: 0.6 }, { latent, noise });
    const full = buildSigmas(cfg, fakeVpModel(p, cfg).modelIndex, 10, 'lms');
    const tail = img2imgSigmas(full, 0.6);
    const x = noisedStart(latent, noise, tail);
    const run = (extra: Record<string, unknown>) =>
      runSampler({ solver: createSolver('lms', cfg, {}, extra), sigmas: tail, x, model: createDenoiseFn(fakeVpModel(p, cfg), { space: 'vp' }) });
    const skipped = await run({ precedingLevels: full.sigmas.slice(0, 4) });
    const alone = await run({});
    expect(tail.sigmas[tail.sigmas.length - 1]).toBe(0); // model variables = VE at sigma 0
    expect([...out.latent.data]).toEqual([...skipped.x.data]);
    expect(relL2(out.latent.data, alone.x.data)).toBeGreaterThan(1e-3);
    // The same tail cut beforehand (a Schedule node's denoise) carries its skipped levels to the Sampler.
    expect(tail.segment?.preceding).toEqual(full.sigmas.slice(0, 4));
    const viaSigmas = await sample(fakeVpModel(p, cfg), { solver: 'lms', start: 'img2img', denoise: 1 }, { latent, noise, sigmas: tail });
    expect([...viaSigmas.latent.data]).toEqual([...out.latent.data]);
  });

  it('a range of a range knows every level before it in the whole schedule', () => {
    const full = buildSigmas(SD_VP_DDIM, fakeVpModel(p).modelIndex, 10, 'dpmpp_2m');
    const inner = splitSigmasAt(splitSigmasAt(full, 3).low, 4).low;
    expect(inner.segment).toEqual({ start: 7, total: 10, preceding: full.sigmas.slice(0, 7) });
    expect(inner.sigmas[0]).toBe(full.sigmas[7]);
  });

  it('an Euler-family schedule ending above sigma 0 returns the VE sample, as diffusers does; other families the VP sample', async () => {
    for (const [solver, cls, ve] of [
      ['euler', 'EulerDiscreteScheduler', true],
      ['dpmpp_2m', 'DPMSolverMultistepScheduler', false],
    ] as const) {
      const cfg = { ...SD_VP_DDIM, _class_name: cls, timestep_spacing: 'linspace', final_sigmas_type: 'sigma_min' };
      const model = fakeVpModel(p, cfg);
      const out = await sample(model, { solver, steps: 6, seed: 2 }, { noise });
      const sigmas = buildSigmas(cfg, model.modelIndex, 6, solver);
      const last = sigmas.sigmas[6];
      expect(last).toBeGreaterThan(0.02);
      const r = await runSampler({
        solver: createSolver(solver, cfg),
        sigmas,
        x: new Tensor(DIMS, noise.data.map((v) => v * initNoiseSigma(sigmas, cfg))),
        model: createDenoiseFn(fakeVpModel(p, cfg), { space: 'vp' }),
      });
      const expected = ve ? r.x.data : r.x.data.map((v) => v / Math.sqrt(last * last + 1));
      expect(relL2(out.latent.data, expected), solver).toBeLessThan(1e-6);
    }
  });
});

describe('Sampler: solver auto', () => {
  it('runs the solver the scheduler config names, with its options: the same run as naming it', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ _class_name: 'DDIMScheduler' }, 'ddim'],
      [{ _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'trailing' }, 'euler'],
      [{ _class_name: 'DPMSolverMultistepScheduler', solver_order: 3 }, 'dpmpp_3m'],
      [{ _class_name: 'DPMSolverMultistepScheduler', algorithm_type: 'dpmsolver' }, 'dpm_2m'],
      [{ _class_name: 'DPMSolverSinglestepScheduler', solver_order: 3 }, 'dpm_3s'],
      [{ _class_name: 'UniPCMultistepScheduler', solver_order: 3 }, 'unipc'],
      [{ _class_name: 'PNDMScheduler', skip_prk_steps: true }, 'pndm'],
      [{ _class_name: 'PNDMScheduler' }, 'pndm'],
    ];
    for (const [over, solver] of cases) {
      const cfg = { ...SD_VP_DDIM, ...over };
      const auto = await sample(fakeVpModel(p, cfg), { solver: 'auto', steps: 7, seed: 3 });
      const named = await sample(fakeVpModel(p, cfg), { solver, steps: 7, seed: 3 });
      expect([...auto.latent.data], String(over._class_name)).toEqual([...named.latent.data]);
    }
    // On a flow model: flow-matching Euler.
    const flow = await sample(fakeFlowModel(p, FLOW_MATCH_SHIFT3), { solver: 'auto', steps: 5, seed: 1 });
    const euler = await sample(fakeFlowModel(p, FLOW_MATCH_SHIFT3), { solver: 'flow_euler', steps: 5, seed: 1 });
    expect([...flow.latent.data]).toEqual([...euler.latent.data]);
  });
});
