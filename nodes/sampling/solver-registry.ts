/** The solvers the Sampler offers, by name. Later issues add DPM-Solver++, UniPC, DEIS, Heun here. */
import { createDdim, type DdimOptions } from './ddim.ts';
import { createEuler } from './euler.ts';
import { createFlowEuler } from './flow-euler.ts';
import type { Solver } from './solver.ts';

export const SOLVER_NAMES = ['ddim', 'euler', 'flow-euler'] as const;
export type SolverName = (typeof SOLVER_NAMES)[number];

export interface SolverOptions {
  ddim?: DdimOptions;
}

export function createSolver(name: string, opts: SolverOptions = {}): Solver {
  switch (name) {
    case 'ddim':
      return createDdim(opts.ddim);
    case 'euler':
      return createEuler();
    case 'flow-euler':
      return createFlowEuler();
    default:
      throw new Error(`unknown solver "${name}" (known: ${SOLVER_NAMES.join(', ')})`);
  }
}
