/**
 * SolverCompare: runs several solvers from one start on one model at several NFE budgets and reports each
 * run's error against a reference end state: the closed-form PF-ODE transport when the model is an
 * embedded analytic (Gaussian) model, else a high-accuracy run (Heun on a fine grid between the same
 * levels). Outputs METRICS (errors, measured orders) and a markdown table.
 *
 * The comparison core (`compareSolvers`, `markdownTable`, ...) is pure over a DenoiseFn and a grid
 * builder, so scripts/report-solvers.ts reuses it with in-process closed-form models.
 *
 * Budgets: each solver gets the most steps whose model calls fit the NFE budget (Heun's 2n - 1, RF-Solver's
 * 2n, ...); the table shows the calls actually made when they differ. Each solver walks its own family's
 * grid for the model (as the Sampler builds it), so end levels may differ (DDIM's final abar vs 0); each
 * run is compared with the exact transport between its own first and last level. Stochastic solvers are
 * compared with the ODE solution too, which measures their sample's distance, not a convergence order.
 * The model wrapper applies no x0 clipping/thresholding (it would change the ODE being solved); the
 * exponential integrators still threshold when the scheduler config asks for it, as in diffusers.
 *
 * Direction 'invert' asks which solver inverts an image most faithfully: each solver walks its inversion
 * grid (inversion-sigmas.ts, as Schedule's direction invert builds it) up from the latent input, and its
 * end state is compared with the exact (or fine-grid) reverse flow from the same start.
 */
import { guidedDenoiseFn } from './cfg.ts';
import { randomNormal, SeededNormal } from './core/random.ts';
import { Tensor } from './core/tensor.ts';
import { defineNode, NodeInputError } from './core/types.ts';
import type { Metrics, ModelHandle, SigmaSpace, Sigmas } from './core/values.ts';
import { modelTimestepAt } from './sampling/level-timestep.ts';
import { createGaussianParams, transportExact, type GaussianParams } from './sampling/gaussian.ts';
import { createHeun } from './sampling/heun.ts';
import { sigmaSpace } from './sampling/model-time.ts';
import { runSampler } from './sampling/sampler-loop.ts';
import { buildSigmas, initNoiseSigma } from './sampling/schedules.ts';
import { buildInversionSigmas } from './sampling/inversion-sigmas.ts';
import { scale, type NoiseSource } from './sampling/ops.ts';
import { createSolver, GRID_AS, SOLVER_NAMES, solverEntry } from './sampling/solver-registry.ts';
import { modelVariablesScale } from './sampling/edm.ts';
import { solverModelCalls, type DenoiseFn, type Solver } from './sampling/solver.ts';

export interface CompareRun {
  solver: string;
  /** The NFE budget. */
  budget: number;
  steps: number;
  /** Model calls actually made. */
  nfe: number;
  /** Relative L2 error of the end state against the reference. */
  error: number;
}

export interface CompareResult {
  solvers: string[];
  budgets: number[];
  runs: CompareRun[];
  /** -slope of log(error) against log(NFE) (least squares); undefined for stochastic solvers or < 2 points. */
  orders: Record<string, number | undefined>;
  stochastic: Record<string, boolean>;
  /** What the errors are measured against. */
  reference: string;
}

export interface CompareSetup {
  solvers: readonly string[];
  budgets: readonly number[];
  /** The grid `solver` walks with `steps` steps. */
  grid(solver: string, steps: number): Sigmas;
  /** A solver instance by name (the Sampler's options for it). */
  solver(name: string): Solver;
  /** The start state at the grid's first level, in sampling variables. */
  start(sigmas: Sigmas): Tensor;
  model: DenoiseFn;
  /** The reference end state (sampling variables) of the ODE from `x` at the grid's first level to its last. */
  reference(x: Tensor, sigmas: Sigmas): Promise<ArrayLike<number>>;
  referenceName: string;
  /** A fresh seeded noise source per run, so stochastic runs reproduce. */
  noise(): NoiseSource;
  /** The model timestep of a level between the levels of `grid` (a run's own grid: its scheduler class's table). */
  timestepAt?: (sigma: number, grid: Sigmas) => number;
  beforeModelCall?: () => void;
  onRun?: (done: number, total: number) => void;
}

/** The most steps (at least 1) whose model calls fit `budget`. */
export function stepsForBudget(solver: Solver, grid: (steps: number) => Sigmas, budget: number): number {
  const min = solver.minSteps ?? 1;
  const max = solver.maxSteps ?? Infinity;
  let n = Math.min(max, Math.max(min, Math.floor(budget / solver.nfePerStep)));
  while (n + 1 <= max && solverModelCalls(solver, grid(n + 1)) <= budget) n++;
  while (n > min && solverModelCalls(solver, grid(n)) > budget) n--;
  return n;
}

export function relativeL2(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (a[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** -slope of log(error) against log(nfe) by least squares over the finite positive points. */
export function measuredOrder(nfe: readonly number[], errors: readonly number[]): number | undefined {
  const pts = nfe.map((n, i) => [n, errors[i]] as const).filter(([n, e]) => n > 0 && e > 0 && Number.isFinite(e));
  if (pts.length < 2 || new Set(pts.map(([n]) => n)).size < 2) return undefined;
  const xs = pts.map(([n]) => Math.log(n));
  const ys = pts.map(([, e]) => Math.log(e));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return -num / den;
}

export async function compareSolvers(setup: CompareSetup): Promise<CompareResult> {
  const runs: CompareRun[] = [];
  const orders: Record<string, number | undefined> = {};
  const stochastic: Record<string, boolean> = {};
  const total = setup.solvers.length * setup.budgets.length;
  let done = 0;
  for (const name of setup.solvers) {
    const probe = setup.solver(name);
    stochastic[name] = probe.stochastic === true || setup.budgets.some((b) => probe.drawsNoiseOn?.(setup.grid(name, Math.max(1, Math.floor(b / probe.nfePerStep)))) === true);
    for (const budget of setup.budgets) {
      const solver = setup.solver(name);
      const steps = stepsForBudget(solver, (n) => setup.grid(name, n), budget);
      const sigmas = setup.grid(name, steps);
      // A solver whose shortest run needs more calls than the budget (PNDM's Runge-Kutta warm-up) gets no entry.
      if ((solver.minSteps ?? 1) > 1 && solverModelCalls(solver, sigmas) > budget) {
        setup.onRun?.(++done, total);
        continue;
      }
      const x = setup.start(sigmas);
      const r = await runSampler({
        solver,
        sigmas,
        x,
        model: setup.model,
        noise: setup.noise(),
        timestepAt: setup.timestepAt && ((s) => setup.timestepAt!(s, sigmas)),
        beforeModelCall: setup.beforeModelCall,
      });
      const ref = await setup.reference(x, sigmas);
      runs.push({ solver: name, budget, steps, nfe: r.modelCalls, error: relativeL2(r.x.data, ref) });
      setup.onRun?.(++done, total);
    }
    const mine = runs.filter((r) => r.solver === name);
    orders[name] = stochastic[name] ? undefined : measuredOrder(mine.map((r) => r.nfe), mine.map((r) => r.error));
  }
  return { solvers: [...setup.solvers], budgets: [...setup.budgets], runs, orders, stochastic, reference: setup.referenceName };
}

function formatError(e: number): string {
  return Number.isFinite(e) ? e.toExponential(2) : String(e);
}

/** One row per solver, one column per NFE budget (relative L2 error), then the measured order. */
export function markdownTable(result: CompareResult): string {
  const head = `| solver | ${result.budgets.map((b) => `NFE ${b}`).join(' | ')} | order |`;
  const rule = `|---|${result.budgets.map(() => '---:').join('|')}|---:|`;
  const rows = result.solvers.map((name) => {
    const cells = result.budgets.map((b) => {
      const r = result.runs.find((x) => x.solver === name && x.budget === b);
      if (!r) return '-';
      return r.nfe === b ? formatError(r.error) : `${formatError(r.error)} (${r.nfe})`;
    });
    const order = result.orders[name];
    const shownName = result.stochastic[name] ? `${name} *` : name;
    return `| ${shownName} | ${cells.join(' | ')} | ${order === undefined ? '-' : order.toFixed(2)} |`;
  });
  return [head, rule, ...rows].join('\n');
}

/** METRICS: `error/<solver>/<budget>` and `order/<solver>` values; a series of errors per solver plus the NFE used. */
export function compareMetrics(result: CompareResult): Metrics {
  const values: Record<string, number> = {};
  const series: Record<string, number[]> = { nfe_budget: [...result.budgets] };
  for (const name of result.solvers) {
    const mine = result.runs.filter((r) => r.solver === name);
    for (const r of mine) values[`error/${name}/${r.budget}`] = r.error;
    const order = result.orders[name];
    if (order !== undefined) values[`order/${name}`] = order;
    series[`error/${name}`] = mine.map((r) => r.error);
    series[`nfe/${name}`] = mine.map((r) => r.nfe);
  }
  return { values, series };
}

// ---------------------------------------------------------------------------------------------
// References

/** The (a, b) of a level on the path x = a x0 + b eps: VE (1, s) for VP models, (1 - t, t) for flow. */
export function pathCoefficients(space: SigmaSpace, sigma: number): [number, number] {
  return space === 'flow' ? [1 - sigma, sigma] : [1, sigma];
}

/** The exact end state of the PF-ODE for Gaussian data (fact sheet 8), in sampling variables. */
export function closedFormReference(p: GaussianParams, x: Tensor, sigmas: Sigmas): Float64Array {
  const [a1, b1] = pathCoefficients(sigmas.space, sigmas.sigmas[0]);
  const [a2, b2] = pathCoefficients(sigmas.space, sigmas.sigmas[sigmas.sigmas.length - 1]);
  return transportExact(p, Float64Array.from(x.data), a1, b1, a2, b2);
}

/**
 * A fine grid between a grid's end levels for the numerical reference: geometric in sigma for VP models
 * (down to the smallest positive level, then the final 0 if the grid ends there), uniform in t for flow.
 */
export function referenceGrid(sigmas: Sigmas, steps: number, timestepAt: (sigma: number) => number): Sigmas {
  const from = sigmas.sigmas[0];
  const to = sigmas.sigmas[sigmas.sigmas.length - 1];
  if (to > from) {
    // Upwards (inversion): the same fine grid between the two ends, walked the other way.
    const down = referenceGrid({ ...sigmas, sigmas: [...sigmas.sigmas].reverse() }, steps, timestepAt);
    const levels = [...down.sigmas].reverse();
    return { space: sigmas.space, sigmas: levels, timesteps: levels.slice(0, -1).map(timestepAt), origin: 'reference' };
  }
  let levels: number[];
  if (sigmas.space === 'flow') {
    levels = Array.from({ length: steps + 1 }, (_, k) => from + ((to - from) * k) / steps);
  } else {
    const floor = to > 0 ? to : Math.min(...sigmas.sigmas.filter((s) => s > 0));
    const n = to > 0 ? steps : steps - 1;
    levels = Array.from({ length: n + 1 }, (_, k) => from * (floor / from) ** (k / n));
    if (to === 0) levels.push(0);
  }
  return { space: sigmas.space, sigmas: levels, timesteps: levels.slice(0, -1).map(timestepAt), origin: 'reference' };
}

/** The Gaussian parameters of an embedded analytic model, or undefined for any other model. */
export function analyticParams(model: Pick<ModelHandle, 'modelIndex'>): GaussianParams | undefined {
  const fs = model.modelIndex.flowstudio as Record<string, unknown> | undefined;
  if (!fs || typeof fs.analytic !== 'string' || !fs.analytic.startsWith('gaussian-')) return undefined;
  const dims = Array.isArray(fs.sample_dims) ? (fs.sample_dims as number[]) : undefined;
  return createGaussianParams(dims ? { dims } : {});
}

function parseList(text: string, what: string): string[] {
  const items = text
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new NodeInputError(`${what}: the list is empty`);
  return items;
}

export const REFERENCE_MODES = ['auto', 'closed_form', 'numerical'] as const;

export const SolverCompare = defineNode({
  type: 'SolverCompare',
  version: 1,
  title: 'Solver Compare',
  category: 'metrics',
  description:
    'Runs several solvers from one noise at several NFE budgets and reports the error of each end state against the exact ODE solution (embedded analytic models) or a high-accuracy run, as METRICS and a markdown table.',
  inputs: {
    model: { type: 'MODEL' },
    latent: { type: 'LATENT', help: 'Shape of the samples; when inverting, the image latent each solver inverts' },
    noise: { type: 'NOISE', optional: true, help: 'Start noise (latent shape); seeded when absent' },
    conditioning: { type: 'CONDITIONING', optional: true },
  },
  outputs: {
    metrics: { type: 'METRICS', help: 'error/<solver>/<nfe>, order/<solver>; series error/<solver>, nfe/<solver>' },
    table: { type: 'STRING', help: 'Markdown table: error per solver and NFE budget, measured order' },
  },
  params: {
    solvers: { kind: 'string', default: 'ddim, euler, heun, lms', label: 'Solvers', help: `Comma-separated, from: ${SOLVER_NAMES.join(', ')}` },
    nfe: { kind: 'string', default: '5, 10, 20, 50', label: 'NFE budgets', help: 'Comma-separated model-call budgets' },
    seed: { kind: 'seed', default: 0, label: 'Seed' },
    direction: {
      kind: 'enum',
      options: ['sample', 'invert'],
      default: 'sample',
      label: 'Direction',
      help: 'sample: from noise down to an image; invert: from the latent input up to noise, each solver on its inversion grid (which solver inverts most faithfully)',
    },
    reference: {
      kind: 'enum',
      options: REFERENCE_MODES,
      default: 'auto',
      label: 'Reference',
      help: 'closed_form: exact Gaussian solution (embedded analytic models only); numerical: Heun on a fine grid; auto: closed form when available',
    },
    reference_steps: { kind: 'int', default: 400, min: 10, max: 5000, label: 'Reference steps', help: 'Heun steps of the numerical reference' },
  },
  async execute(ctx, inputs, params) {
    const { model, latent } = inputs;
    const solvers = parseList(params.solvers, 'solvers');
    const space = sigmaSpace(model.modelIndex, model.scheduler);
    const invert = params.direction === 'invert';
    for (const s of solvers) {
      let entry;
      try {
        entry = solverEntry(s);
      } catch (e) {
        throw new NodeInputError((e as Error).message);
      }
      if (entry.spaces && !entry.spaces.includes(space)) throw new NodeInputError(`solver "${s}" runs on ${entry.spaces.join('/')} models only; this model is "${space}"`);
      if (invert && entry.noInversion) throw new NodeInputError(`solver "${s}" cannot invert (it draws noise every step or walks only downwards)`);
    }
    const budgets = parseList(params.nfe, 'nfe').map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new NodeInputError(`nfe: "${v}" is not a positive integer`);
      return n;
    });
    const noise = inputs.noise ?? randomNormal(latent.dims, params.seed);
    if (!noise.sameShape(latent)) throw new NodeInputError(`noise shape ${noise.shapeString()} does not match the latent shape ${latent.shapeString()}`, 'noise');
    const gaussian = analyticParams(model);
    if (params.reference === 'closed_form' && !gaussian) throw new NodeInputError('reference "closed_form" needs an embedded analytic model (embedded:gaussian-*)');
    const closedForm = gaussian !== undefined && params.reference !== 'numerical';
    const denoise = guidedDenoiseFn(model, { space, conditioning: inputs.conditioning, signal: ctx.signal, batch: latent.dims[0] });
    // Off-grid timesteps per grid class: a class without rescale_betas_zero_snr reads the plain table (modelTimestepAt).
    const timestepsByClass = new Map<string | undefined, (sigma: number) => number>();
    const timestepAt = (sigma: number, g: Sigmas): number => {
      let at = timestepsByClass.get(g.origin);
      if (!at) timestepsByClass.set(g.origin, (at = modelTimestepAt(model.scheduler, model.modelIndex, space, g.origin)));
      return at(sigma);
    };
    const grids = new Map<string, Sigmas>();
    const grid = (solver: string, steps: number): Sigmas => {
      const key = `${solver}/${steps}`;
      let g = grids.get(key);
      if (!g) {
        const rules = GRID_AS[solver] ?? solver;
        g = invert ? buildInversionSigmas(model.scheduler, model.modelIndex, steps, rules) : buildSigmas(model.scheduler, model.modelIndex, steps, rules, {});
        grids.set(key, g);
      }
      return g;
    };
    let draws = 0;
    const result = await compareSolvers({
      solvers,
      budgets,
      grid,
      solver: (name) => createSolver(name, model.scheduler, {}),
      // Inverting starts from the latent itself (model variables at the grid's first level), sampling from noise.
      start: (sigmas) =>
        invert ? scale(latent, 1 / modelVariablesScale(model.scheduler, space, sigmas.sigmas[0])) : new Tensor(noise.dims, noise.data.map((v) => v * initNoiseSigma(sigmas, model.scheduler))),
      model: denoise,
      referenceName: closedForm ? 'closed-form PF-ODE solution (Gaussian data)' : `Heun, ${params.reference_steps} steps`,
      reference: async (x, sigmas) => {
        if (closedForm) return closedFormReference(gaussian!, x, sigmas);
        const at = (s: number) => timestepAt(s, sigmas);
        const fine = referenceGrid(sigmas, params.reference_steps, at);
        const r = await runSampler({ solver: createHeun(), sigmas: fine, x, model: denoise, timestepAt: at, beforeModelCall: () => ctx.throwIfAborted() });
        return r.x.data;
      },
      noise: () => {
        const rng = new SeededNormal(params.seed + 1 + draws++);
        return (dims) => {
          const t = new Tensor(dims);
          rng.fill(t.data);
          return t;
        };
      },
      timestepAt,
      beforeModelCall: () => ctx.throwIfAborted(),
      onRun: (done, total) => ctx.progress(done, total),
    });
    const note = Object.values(result.stochastic).some(Boolean) ? '\n\n\\* stochastic: the error is its sample\'s distance from the ODE solution, not a convergence measure.' : '';
    const what = invert ? 'inverted latent' : 'final sample';
    const table = `Relative L2 error of the ${what} against the ${result.reference}.\n\n${markdownTable(result)}${note}\n`;
    return { metrics: compareMetrics(result), table };
  },
});

export default SolverCompare;
