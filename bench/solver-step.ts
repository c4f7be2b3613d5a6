/**
 * Solver step cost: the sampling math of one step (no model) for Euler, DPM++ 2M and UniPC on a 16x128x128
 * latent, with a fake model that returns a precomputed prediction, so what is timed is the solver's own
 * tensor arithmetic and bookkeeping. Issue target: < 2 ms per step on one core (the math must not dominate
 * a model call). `solverStepRows()` returns bench table rows; `npx tsx bench/solver-step.ts` prints them.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../nodes/core/tensor.ts';
import type { Sigmas } from '../nodes/core/values.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import type { DenoiseFn, Prediction } from '../nodes/sampling/solver.ts';
import { median, type BenchRow } from './util.ts';


const LATENT = [1, 16, 128, 128];
const STEPS = 24;
const RUNS = 9;
const TARGET_MS = 2;

function filled(dims: number[], seed: number): Tensor {
  const t = new Tensor(dims);
  let s = seed;
  for (let i = 0; i < t.size; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    t.data[i] = s / 2 ** 31 - 1;
  }
  return t;
}

/** A VP grid uniform in lambda, ending above 0 so every step is a regular (not final-jump) step. */
function grid(steps: number): Sigmas {
  const levels = Array.from({ length: steps + 1 }, (_, i) => 14.6 * (0.03 / 14.6) ** (i / steps));
  return { space: 'vp', sigmas: levels, timesteps: levels.slice(0, -1).map((_, i) => 999 - i) };
}

/**
 * ms per step of `solver` over a STEPS-step run (median of RUNS, after one warm-up run): solver.step()
 * alone, called directly. runSampler's non-finite check of the prediction is not timed, except where a
 * solver does that scan itself inside its update (Euler: ops.addScaledChecked).
 */
async function msPerStep(name: string): Promise<number> {
  const pred: Prediction = { denoised: filled(LATENT, 1), eps: filled(LATENT, 2), derivative: filled(LATENT, 2) };
  const model: DenoiseFn = async () => pred;
  const x = filled(LATENT, 3);
  const ctx = { sigmas: grid(STEPS) };
  const times: number[] = [];
  for (let r = 0; r <= RUNS; r++) {
    const solver = createSolver(name);
    let state = solver.init(ctx, x);
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) state = await solver.step(ctx, state, i, model);
    if (r > 0) times.push((performance.now() - t0) / STEPS);
  }
  return median(times);
}

export async function solverStepRows(): Promise<BenchRow[]> {
  const elements = LATENT.reduce((a, b) => a * b, 1);
  const rows: BenchRow[] = [];
  for (const [solver, label] of [['euler', 'Euler'], ['dpmpp_2m', 'DPM++ 2M'], ['unipc', 'UniPC (bh2, corrector)']] as const) {
    const ms = await msPerStep(solver);
    rows.push({
      name: `solver step, ${label} (ms per million latent elements)`,
      value: ((ms * 1e6) / elements).toFixed(3),
      target: `< ${((TARGET_MS * 1e6) / elements).toFixed(2)} (${TARGET_MS} ms per step at 16x128x128)`,
      note: `${ms.toFixed(2)} ms per step on a ${LATENT.slice(1).join('x')} latent, median of ${RUNS} ${STEPS}-step runs, solver.step() only (fake model)${solver === 'euler' ? "; Euler's update includes the model output's non-finite scan, which it folds into its pass" : ''}`,
    });
  }
  return rows;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rows = await solverStepRows();
  console.log('| benchmark | value | target | note |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.value} | ${r.target} | ${r.note} |`);
}
