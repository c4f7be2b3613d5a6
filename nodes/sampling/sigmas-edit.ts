/**
 * ComfyUI's sigma-editing nodes (comfy_extras/nodes_custom_sampler.py) on FlowStudio grids. A grid pairs
 * each step's level with the model timestep it is called at, so an edit keeps the timesteps of the levels
 * it keeps and asks `timestepOf` (the model's, on the grid's terms) for the levels it makes. On a ComfyUI
 * grid the arithmetic is float32, as ComfyUI's sigma tensors are.
 */
import type { Sigmas } from '../core/values.ts';
import { roundHalfEven } from './sigma-grids.ts';
import { splitSigmasAt } from './sigmas-split.ts';
import { linspaceF32 } from './torch-linspace.ts';

const f32 = Math.fround;

/** The spacings of ExtendIntermediateSigmas: where between two levels the new ones go. */
export const EXTEND_SPACINGS = ['linear', 'cosine', 'sine'] as const;
export type ExtendSpacing = (typeof EXTEND_SPACINGS)[number];

function arithmetic(s: Sigmas): (v: number) => number {
  return s.offGridTimesteps === 'comfyui' ? f32 : (v) => v;
}

/**
 * SplitSigmasDenoise: the last round(N * denoise) steps (Python's round, halves to even) go to `low`, the
 * rest to `high`; both hold the level between. Deviation: at a denoise that rounds to no step, ComfyUI's
 * slice sigmas[:-0] gives `high` no levels at all; here `high` is the whole schedule and `low` has no steps.
 */
export function splitSigmasDenoise(s: Sigmas, denoise: number): { high: Sigmas; low: Sigmas } {
  if (!(denoise >= 0 && denoise <= 1)) throw new Error(`denoise must be in [0, 1], got ${denoise}`);
  const n = s.timesteps.length;
  return splitSigmasAt(s, n - roundHalfEven(n * denoise));
}

/**
 * SetFirstSigma: the first step starts from `level` instead, called at that level's timestep. `startScale`
 * gives the start noise scale for the new level (ComfyUI's max_denoise rule on a ComfyUI grid); without it
 * the Sampler derives the scale from the grid's class, as for any grid.
 */
export function setFirstLevel(s: Sigmas, level: number, timestepOf: (sigma: number) => number, startScale?: (sigma: number) => number): Sigmas {
  if (s.timesteps.length === 0) throw new Error('the schedule has no steps: there is no first step to start from another level');
  if (!(level > 0 && Number.isFinite(level))) throw new Error(`the first level must be a positive number, got ${level}`);
  const v = arithmetic(s)(level);
  if (s.space === 'flow' && v > 1) throw new Error(`a flow model's levels are t in (0, 1]: got ${level}`);
  const out: Sigmas = { ...s, sigmas: [v, ...s.sigmas.slice(1)], timesteps: [timestepOf(v), ...s.timesteps.slice(1)] };
  if (startScale) out.initNoiseSigma = startScale(v);
  else delete out.initNoiseSigma;
  return out;
}

/** ExtendIntermediateSigmas' fractions of a step: linspace(0, 1, steps + 1) without its ends, through the spacing (float32, as torch). */
export function extendFractions(steps: number, spacing: ExtendSpacing): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a whole number of at least 1, got ${steps}`);
  const x = linspaceF32(0, 1, steps + 1).slice(1, -1);
  // torch: x * math.pi / 2 in float32 (the scalar cast to float32), then sin / 1 - cos.
  const angle = (v: number) => f32(f32(v * f32(Math.PI)) / 2);
  if (spacing === 'linear') return x;
  if (spacing === 'cosine') return x.map((v) => f32(Math.sin(angle(v))));
  return x.map((v) => f32(1 - f32(Math.cos(angle(v)))));
}

export interface ExtendOptions {
  /** Each step from a level inside [endAt, startAt] becomes this many steps. */
  steps: number;
  /** The highest level whose step is split; below 0: no bound (ComfyUI's -1). */
  startAt: number;
  endAt: number;
  spacing: ExtendSpacing;
}

/**
 * ExtendIntermediateSigmas: every step that starts at a level in [endAt, startAt] is split into `steps`
 * steps, the new levels at cur + f (next - cur) for the spacing's fractions f. A part of a longer schedule
 * keeps its place in it, the whole counted with the added steps.
 * Grids that step to levels off their list (DDIM's prev_t rule) are refused: a new level has no such target.
 */
export function extendIntermediateSigmas(s: Sigmas, o: ExtendOptions, timestepOf: (sigma: number) => number): Sigmas {
  if (s.targets) {
    throw new Error(`the ${s.origin ?? ''} grid steps to levels off its own list (DDIM's prev_t rule), which new levels between them would not follow: extend a grid of another solver's rules`);
  }
  const round = arithmetic(s);
  const fractions = extendFractions(o.steps, o.spacing);
  // ComfyUI compares its float32 levels with the bounds as float32 scalars.
  const top = o.startAt < 0 ? Infinity : round(o.startAt);
  const bottom = round(o.endAt);
  const n = s.timesteps.length;
  const sigmas: number[] = [];
  const timesteps: number[] = [];
  for (let i = 0; i < n; i++) {
    const cur = s.sigmas[i];
    sigmas.push(cur);
    timesteps.push(s.timesteps[i]);
    if (!(bottom <= cur && cur <= top)) continue;
    const span = round(s.sigmas[i + 1] - cur);
    for (const f of fractions) {
      const v = round(round(f * span) + cur);
      sigmas.push(v);
      timesteps.push(timestepOf(v));
    }
  }
  sigmas.push(s.sigmas[n]);
  const out: Sigmas = { ...s, sigmas, timesteps };
  // A part keeps its place: the whole schedule is longer by the steps added here, so a head stays a head
  // (its result stays in the model's variables for the next part) and a tail still ends the schedule.
  if (s.segment) out.segment = { ...s.segment, total: s.segment.total + timesteps.length - n };
  return out;
}
