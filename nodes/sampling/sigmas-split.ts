/**
 * Cutting a grid into step ranges (SplitSigmas, img2img tails). A part keeps each step's timestep and
 * target with its level, shares its boundary level with the neighbouring part, and records where it sits
 * in the whole schedule (`segment`), so solvers can apply whole-schedule rules (lower_order_final).
 */
import type { Sigmas } from '../core/values.ts';

/** Steps [from, to) of a grid: levels from..to (to inclusive, the level the last step lands on). */
export function sliceSigmas(s: Sigmas, from: number, to: number): Sigmas {
  const n = s.timesteps.length;
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > n || from > to) {
    throw new Error(`step range [${from}, ${to}) is not inside the ${n}-step schedule (need 0 <= from <= to <= ${n})`);
  }
  if (from === 0 && to === n) return s;
  const out: Sigmas = {
    space: s.space,
    sigmas: s.sigmas.slice(from, to + 1),
    timesteps: s.timesteps.slice(from, to),
    segment: { start: (s.segment?.start ?? 0) + from, total: s.segment?.total ?? n, preceding: [...(s.segment?.preceding ?? []), ...s.sigmas.slice(0, from)] },
  };
  // The model timestep of the level the part ends on, when the whole grid has one (not its final level).
  const end = to < n ? s.timesteps[to] : s.endTimestep;
  if (end !== undefined) out.endTimestep = end;
  if (s.targets) out.targets = s.targets.slice(from, to);
  if (s.origin !== undefined) out.origin = s.origin;
  if (s.offGridTimesteps !== undefined) out.offGridTimesteps = s.offGridTimesteps;
  // The start noise scale belongs to the schedule's first level only.
  if (from === 0 && s.initNoiseSigma !== undefined) out.initNoiseSigma = s.initNoiseSigma;
  return out;
}

/** Splits after `step` steps: `high` = steps [0, step), `low` = the rest; both hold level `step`. Clamped to [0, N]. */
export function splitSigmasAt(s: Sigmas, step: number): { high: Sigmas; low: Sigmas } {
  const n = s.timesteps.length;
  const k = Math.min(Math.max(Math.trunc(step), 0), n);
  return { high: sliceSigmas(s, 0, k), low: sliceSigmas(s, k, n) };
}
