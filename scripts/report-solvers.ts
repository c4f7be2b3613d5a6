/**
 * `npm run report:solvers`: error vs NFE of every registered solver on the embedded Gaussian models' exact
 * problems (VP: eps-prediction, SD 1.x betas; RF: rectified flow), written to reports/solvers.md with a
 * log-log plot reports/solvers.png.
 *
 * Setup (why): the models are the closed-form optimal denoisers of gaussian.ts evaluated in-process at the
 * exact continuous level, so errors are the solvers' own. Every solver walks the same levels, at the most
 * steps whose model calls fit the budget:
 *  - VP: uniform in lambda = -ln(sigma) from the training table's sigma_max down to its sigma_min (t = 0),
 *    stopping there: the final jump to sigma 0 is one first-order denoising step common to every solver,
 *    which would dominate every error (fact sheet 8: "the final jump to sigma 0 caps observed order").
 *  - RF: uniform in t from 1 to 0 (the flow ODE is smooth up to t = 0).
 * A second table runs each solver on its own diffusers grid for the model's scheduler config, down to
 * sigma 0 as a pipeline does, to show that end-point effect. A third answers "which solver inverts most
 * faithfully": every ODE solver walks the common grid upwards from a data sample at its lowest level.
 * Errors are relative L2 distances of the final
 * sample from the exact PF-ODE solution from the same start (batch of samples). Orders are least-squares
 * slopes of log(error) against log(NFE) over the budgets.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../nodes/core/tensor.ts';
import type { SchedulerConfig, Sigmas } from '../nodes/core/values.ts';
import { GRID_AS, SOLVER_NAMES, SOLVERS, createSolver } from '../nodes/sampling/solver-registry.ts';
import { compareSolvers, markdownTable, type CompareResult } from '../nodes/solver-compare.ts';
import { predictionFromOutput } from '../nodes/sampling/denoiser.ts';
import { createGaussianParams, denoisedVE, sampleData, seededNormals, transportExact, velocityRF, type GaussianParams } from '../nodes/sampling/gaussian.ts';
import { SeededNormal } from '../nodes/core/random.ts';
import { buildSigmas, initNoiseSigma, sigmaToTimestep, vpTable } from '../nodes/sampling/schedules.ts';
import type { DenoiseFn } from '../nodes/sampling/solver.ts';
import { logLogPlotPng, PALETTE, type PlotPanel } from './plot-png.ts';
import { meanRevertingReport } from './report-mrs.ts';
import { RF_SCHEDULER_CONFIG, VP_SCHEDULER_CONFIG } from '../electron/engine/models/analytic.ts';

export type ReportModel = 'vp' | 'rf';

export interface ReportConfig {
  /** Where solvers.md and solvers.png go. */
  outDir: string;
  /** Default: every registered solver (each on the models it supports). */
  solvers?: readonly string[];
  /** Default 5, 10, 20, 50. */
  nfes?: readonly number[];
  /** Default both. */
  models?: readonly ReportModel[];
  /** Gaussian sample shape (default the embedded models' [3, 16, 16]). */
  dims?: number[];
  /** Samples per run (default 2). */
  batch?: number;
  /** Also the per-solver diffusers grids to sigma 0 (default true). */
  diffusersGrids?: boolean;
}

export interface ReportOutput {
  markdown: string;
  png: Buffer;
  /** Common-grid results per model, plus UniPC at solver_order 3 on the VP model at NFE 10. */
  results: Partial<Record<ReportModel, CompareResult>> & { unipcOrder3?: CompareResult };
  /** Diffusers-grid results per model (when run). */
  diffusers: Partial<Record<ReportModel, CompareResult>>;
  /** Inversion results per model: the common grid walked upwards. */
  inversion: Partial<Record<ReportModel, CompareResult>>;
  /** The MR Sampler on the mean-reverting Gaussian (when mrs is among the solvers). */
  meanReverting?: CompareResult;
}

const DEFAULT_NFES = [5, 10, 20, 50];

const MODEL_SETUP: Record<ReportModel, { title: string; scheduler: SchedulerConfig; modelIndex: Record<string, unknown>; space: 'vp' | 'flow' }> = {
  vp: {
    title: 'VP Gaussian (eps model, SD 1.x betas)',
    scheduler: VP_SCHEDULER_CONFIG,
    modelIndex: { _class_name: 'FlowStudioGaussianPipeline' },
    space: 'vp',
  },
  rf: {
    title: 'RF Gaussian (velocity model)',
    scheduler: RF_SCHEDULER_CONFIG,
    modelIndex: { _class_name: 'FlowStudioGaussianFlowPipeline', flowstudio: { timestep_units: 'fraction' } },
    space: 'flow',
  },
};

/** The exact model of Gaussian data at the continuous level, in sampling variables. */
export function exactDenoiseFn(p: GaussianParams, space: 'vp' | 'flow'): DenoiseFn {
  return async (x, level) => {
    const xs = Float64Array.from(x.data);
    if (space === 'flow') return predictionFromOutput(new Tensor(x.dims, Float32Array.from(velocityRF(p, xs, level.sigma))), x, level.sigma, 'flow', 'flow');
    const d = denoisedVE(p, xs, level.sigma);
    const eps = new Tensor(x.dims, Float32Array.from(xs, (v, k) => (v - d[k]) / level.sigma));
    return predictionFromOutput(eps, x, level.sigma, 'vp', 'epsilon');
  };
}

/** The common grid of a model with `steps` steps (see the header). */
export function commonGrid(model: ReportModel, steps: number): Sigmas {
  if (model === 'rf') {
    const levels = Array.from({ length: steps + 1 }, (_, i) => (i === steps ? 0 : 1 - i / steps));
    return { space: 'flow', sigmas: levels, timesteps: levels.slice(0, -1), origin: 'uniform in t' };
  }
  const table = vpTable(MODEL_SETUP.vp.scheduler);
  const smax = table.sigmas[table.sigmas.length - 1];
  const smin = table.sigmas[0];
  const levels = Array.from({ length: steps + 1 }, (_, i) => (i === steps ? smin : smax * (smin / smax) ** (i / steps)));
  return { space: 'vp', sigmas: levels, timesteps: levels.slice(0, -1).map((s) => sigmaToTimestep(table, s)), origin: 'uniform in lambda' };
}

/** The common grid walked upwards (inversion): its levels reversed, each with its model timestep. */
export function inversionGrid(model: ReportModel, steps: number): Sigmas {
  const down = commonGrid(model, steps);
  const levels = [...down.sigmas].reverse();
  const timestepOf = (s: number) => (model === 'rf' ? s : sigmaToTimestep(vpTable(MODEL_SETUP.vp.scheduler), s));
  return { space: down.space, sigmas: levels, timesteps: levels.slice(0, -1).map(timestepOf), origin: `${down.origin} (reversed)` };
}

function runnable(model: ReportModel, solvers: readonly string[]): string[] {
  const space = MODEL_SETUP[model].space;
  // The CFG++ solvers need CFG's unconditional side, which these unconditional models have none of; a solver
  // for one model class (consistency models' cm_stochastic) has no such model here.
  return solvers.filter((s) => {
    const e = SOLVERS[s];
    return e !== undefined && !e.needsUncond && !e.adaptiveSteps && !e.modelClass && (!e.spaces || e.spaces.includes(space));
  });
}

async function compareOn(
  model: ReportModel,
  p: GaussianParams,
  dims: number[],
  solvers: string[],
  nfes: readonly number[],
  grid: 'common' | 'diffusers' | 'inversion',
  overrides: Record<string, unknown> = {},
): Promise<CompareResult> {
  const setup = MODEL_SETUP[model];
  const D = p.mu.length;
  const batch = dims[0];
  const z = Float32Array.from(seededNormals(batch * D, 2024));
  // Inversion starts from data at the grid's lowest level: x0 + s z (VE) on VP models, x0 itself at t = 0.
  const x0 = Float32Array.from(sampleData(p, batch, 2025));
  let draws = 0;
  return compareSolvers({
    solvers,
    budgets: nfes,
    grid: (solver, steps) => {
      if (grid === 'common') return commonGrid(model, steps);
      if (grid === 'inversion') return inversionGrid(model, steps);
      return buildSigmas(setup.scheduler, setup.modelIndex, steps, GRID_AS[solver] ?? solver, {});
    },
    solver: (name) => createSolver(name, setup.scheduler, overrides),
    start: (sigmas) => {
      if (grid === 'inversion') return new Tensor(dims, x0.map((v, k) => (setup.space === 'flow' ? v : v + sigmas.sigmas[0] * z[k])));
      // Sampling: the same standard normals for every run, scaled to the grid's start as a pipeline does.
      return new Tensor(dims, z.map((v) => v * initNoiseSigma(sigmas, setup.scheduler)));
    },
    model: exactDenoiseFn(p, setup.space),
    referenceName: 'closed-form PF-ODE solution',
    reference: async (x, sigmas) => {
      const a = (s: number): [number, number] => (setup.space === 'flow' ? [1 - s, s] : [1, s]);
      const [a1, b1] = a(sigmas.sigmas[0]);
      const [a2, b2] = a(sigmas.sigmas[sigmas.sigmas.length - 1]);
      return transportExact(p, Float64Array.from(x.data), a1, b1, a2, b2);
    },
    noise: () => {
      const rng = new SeededNormal(7 + draws++);
      return (d) => {
        const t = new Tensor(d);
        rng.fill(t.data);
        return t;
      };
    },
    timestepAt: setup.space === 'vp' ? (s) => sigmaToTimestep(vpTable(setup.scheduler), s) : (t) => t,
  });
}

function plotPanel(title: string, r: CompareResult): PlotPanel {
  return {
    title,
    xLabel: 'NFE',
    yLabel: 'relative L2 error',
    series: r.solvers.map((name, k) => ({
      name,
      color: PALETTE[k % PALETTE.length],
      dashed: r.stochastic[name],
      points: r.runs.filter((x) => x.solver === name).map((x) => [x.nfe, x.error] as const),
    })),
  };
}

function ratioLine(r: CompareResult, budget: number, against: string, names: string[]): string {
  const err = (n: string) => r.runs.find((x) => x.solver === n && x.budget === budget)?.error;
  const base = err(against);
  if (base === undefined) return '';
  const parts = names.filter((n) => err(n) !== undefined).map((n) => `${n} ${(base / err(n)!).toFixed(1)}x`);
  return parts.length ? `At NFE ${budget}, error of ${against} divided by: ${parts.join(', ')}.` : '';
}

/** "At NFE n, from most to least faithful: a (error), b (error), ..." over the deterministic solvers. */
export function faithfulnessLine(r: CompareResult, budget: number): string {
  const ranked = r.runs.filter((x) => x.budget === budget && !r.stochastic[x.solver]).sort((a, b) => a.error - b.error);
  if (ranked.length === 0) return '';
  return `At NFE ${budget}, from most to least faithful: ${ranked.map((x) => `${x.solver} (${x.error.toExponential(2)})`).join(', ')}.`;
}

export async function generateSolverReport(config: ReportConfig): Promise<ReportOutput> {
  const nfes = config.nfes ?? DEFAULT_NFES;
  const solvers = config.solvers ?? SOLVER_NAMES;
  const models = config.models ?? (['vp', 'rf'] as const);
  const sampleDims = config.dims ?? [3, 16, 16];
  const batch = config.batch ?? 2;
  const p = createGaussianParams({ dims: sampleDims });
  const dims = [batch, ...sampleDims];
  const results: ReportOutput['results'] = {};
  const diffusers: ReportOutput['diffusers'] = {};
  const inversion: ReportOutput['inversion'] = {};
  const sections: string[] = [];
  const panels: PlotPanel[] = [];
  for (const model of models) {
    const names = runnable(model, solvers);
    // Solvers that walk only their scheduler's grid of training levels (PNDM, DDPM, LCM) are in the second table alone.
    const ownGridOnly = names.filter((n) => SOLVERS[n].tableGridOnly);
    const r = await compareOn(model, p, dims, names.filter((n) => !SOLVERS[n].tableGridOnly), nfes, 'common');
    results[model] = r;
    panels.push(plotPanel(model === 'vp' ? 'VP GAUSSIAN' : 'RF GAUSSIAN', r));
    const setup = MODEL_SETUP[model];
    const gridText = model === 'vp' ? 'levels uniform in lambda from sigma_max 14.61 to sigma_min 0.0292 (the table\'s t = 0)' : 'levels uniform in t from 1 to 0';
    const same = model === 'vp' ? 'ddim, euler and dpm_1s' : 'ddim, euler, flow_euler and dpm_1s';
    const lines = [
      `## ${setup.title}`,
      '',
      `Common grid: ${gridText}. ${same} coincide here: on one grid they take the same first-order step (fact sheet 1).` +
        (ownGridOnly.length > 0 ? ` Only in the second table (they walk only their scheduler's grid of training levels): ${ownGridOnly.join(', ')}.` : ''),
      '',
      markdownTable(r),
    ];
    if (model === 'vp') {
      const ratio = ratioLine(r, 10, 'ddim', ['dpmpp_2m', 'unipc']);
      if (ratio) lines.push('', ratio);
      // The same comparison with the multistep solvers held at their nominal order to the last step.
      const nominal = names.filter((n) => n === 'dpmpp_2m' || n === 'unipc');
      if (ratio && nominal.length > 0 && nfes.includes(10)) {
        const off = await compareOn(model, p, dims, nominal, [10], 'common', { lower_order_final: 'off' });
        const base = r.runs.find((x) => x.solver === 'ddim' && x.budget === 10)!.error;
        const parts = off.runs.map((x) => `${x.solver} ${(base / x.error).toFixed(1)}x (error ${x.error.toExponential(2)})`);
        const worse = off.runs.filter((x) => x.error > r.runs.find((y) => y.solver === x.solver && y.budget === 10)!.error).map((x) => x.solver);
        const ten = commonGrid('vp', 10).sigmas;
        const h = Math.log(ten[0] / ten[10]) / 10;
        lines.push(
          '',
          `With lower_order_final off (second order up to the last step, all else unchanged), at NFE 10: ${parts.join(', ')}.`,
          `At NFE 10 the step is h = ${h.toFixed(2)} in lambda: the methods are pre-asymptotic there` +
            (worse.length > 0 ? `, and the first-order last step of lower_order_final ends closer to the exact solution for ${worse.join(' and ')}.` : '.'),
        );
      }
      // diffusers recommends solver_order 3 for unconditional sampling, which this model is.
      if (ratio && names.includes('unipc') && nfes.includes(10)) {
        const third = await compareOn(model, p, dims, ['unipc'], [10], 'common', { unipc_order: '3' });
        const base = r.runs.find((x) => x.solver === 'ddim' && x.budget === 10)!.error;
        const e3 = third.runs[0].error;
        lines.push(
          '',
          `UniPC at solver_order 3, which diffusers recommends for unconditional sampling (this model has no conditioning), at NFE 10: ${(base / e3).toFixed(1)}x (error ${e3.toExponential(2)}).`,
        );
        results.unipcOrder3 = third;
      }
    }
    if (config.diffusersGrids !== false) {
      const d = await compareOn(model, p, dims, names, nfes, 'diffusers');
      diffusers[model] = d;
      lines.push(
        '',
        `Each solver on its own diffusers grid for this scheduler config (${String(setup.scheduler._class_name)}), to the grid's end (sigma 0 for most), as a pipeline runs it:`,
        '',
        markdownTable(d),
      );
    }
    const inverting = names.filter((n) => !SOLVERS[n].noInversion && !SOLVERS[n].tableGridOnly);
    if (inverting.length > 0) {
      const inv = await compareOn(model, p, dims, inverting, nfes, 'inversion');
      inversion[model] = inv;
      const start = model === 'vp' ? 'a data sample noised to sigma_min (VE x0 + sigma_min z)' : 'a data sample at t = 0';
      lines.push(
        '',
        `### Inversion: which solver inverts most faithfully`,
        '',
        `Every ODE solver walks the common grid upwards, from ${start} to the top level; error of the inverted latent against the exact reverse flow from the same start.`,
        '',
        markdownTable(inv),
      );
      const best = faithfulnessLine(inv, 10);
      if (best) lines.push('', best);
    }
    sections.push(lines.join('\n'));
  }
  // The MR Sampler on a mean-reverting model, its own setting (the tables above run it with mu = 0).
  let meanReverting: CompareResult | undefined;
  if (solvers.includes('mrs') && models.includes('vp')) {
    const mr = await meanRevertingReport(p, dims, nfes);
    meanReverting = mr.result;
    sections.push(mr.markdown);
  }
  const stochastic = Object.values(results).some((r) => r && Object.values(r.stochastic).some(Boolean));
  const markdown = [
    '# Solver error vs NFE',
    '',
    'Generated by `npm run report:solvers` (scripts/report-solvers.ts). Relative L2 error of the final sample against the exact',
    `probability-flow ODE solution for Gaussian data (${sampleDims.join('x')}, covariance eigenvalues 1 .. 0.01, batch ${batch}),`,
    'with the closed-form optimal model evaluated at the exact level. Each solver gets the most steps whose model calls fit the',
    'NFE budget; a cell shows the calls made in parentheses when they differ. "order" is the least-squares slope of',
    'log(error) against log(NFE) over the budgets (pre-asymptotic at small NFE).',
    '',
    'Solver settings: each solver as `createSolver` builds it for the model\'s scheduler config, i.e. diffusers\' defaults',
    '(DDIM eta 0; DPM-Solver++ 2M midpoint with lower_order_final on, which makes the last step first order below 15',
    'steps; UniPC bh2, order 2, data prediction, corrector on, lower_order_final on, so its last predictor is first',
    'order below 15 steps; DEIS and DPM++ 3M likewise; PNDM with its class default skip_prk_steps false, whose Runge-Kutta',
    'warm-up needs 13 calls or more, hence no entry at NFE 5 and 10; every other option at its class default). Multistep methods start with a first-order step (no',
    'history yet); no exact warm-start values are used. Every solver walks the same levels (the common grid below),',
    'which end above sigma 0, so the error is the solvers\' own and not the final jump to clean data. The CFG++ solvers',
    '(`*_cfg_pp`) are left out: they step along CFG\'s unconditional prediction, which these unconditional models lack.',
    'cfgpp_ud10_ab stays in: without an unconditional call it reads the conditional x0 in its place, as ComfyUI\'s does. Its',
    'noise-direction extrapolation (a tenth of the last change, scaled by the step ratio) moves every step by a term of the',
    'step\'s own size: it follows a slightly different curve, and its error falls more slowly than first order towards a floor.',
    'On the common grids sa_solver and sa_solver_pece run in their ODE form (no SDE interval: the Sampler gives them one from the model\'s',
    'schedule); on its own SASolverScheduler grid sa_solver is diffusers\' arrangement, which draws noise every step.',
    'dpm_adaptive is left out: its model calls follow its error tolerance, not an NFE budget.',
    stochastic ? '\n\\* stochastic solver (seeded): the error is its sample\'s distance from the ODE solution, not a convergence measure.' : '',
    '',
    ...sections.map((s) => `${s}\n`),
    '![error vs NFE](solvers.png)',
    '',
  ].join('\n');
  const png = logLogPlotPng(panels);
  await fs.mkdir(config.outDir, { recursive: true });
  await fs.writeFile(path.join(config.outDir, 'solvers.md'), markdown);
  await fs.writeFile(path.join(config.outDir, 'solvers.png'), png);
  return { markdown, png, results, diffusers, inversion, meanReverting };
}

async function main(): Promise<void> {
  const outDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'reports');
  const t0 = performance.now();
  const out = await generateSolverReport({ outDir });
  const vp = out.results.vp;
  console.log(`wrote ${path.join(outDir, 'solvers.md')} and solvers.png in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (vp) console.log(ratioLine(vp, 10, 'ddim', ['dpmpp_2m', 'unipc']));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
