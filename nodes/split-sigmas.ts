/**
 * SplitSigmas: cuts a schedule into two step ranges that share their boundary level, so two samplers
 * (possibly different solvers) can run one schedule in turn. Each step keeps its timestep and target.
 */
import { denoiseParam } from './core/denoise-param.ts';
import { defineNode, NodeInputError } from './core/types.ts';
import { sliceSigmas, splitSigmasAt } from './sampling/sigmas-split.ts';
import { splitSigmasDenoise } from './sampling/sigmas-edit.ts';

export const SplitSigmas = defineNode({
  type: 'SplitSigmas',
  version: 1,
  title: 'Split Sigmas',
  category: 'sampling',
  description:
    'Splits a schedule after a step: `high` runs the first steps, `low` the rest from the same level. In range mode `high` is steps [from, to) and `low` the steps after `to`; in denoise mode (ComfyUI\'s SplitSigmasDenoise) `low` is the last round(N * denoise) steps.',
  inputs: {
    sigmas: { type: 'SIGMAS' },
  },
  outputs: {
    high: { type: 'SIGMAS', help: 'Steps [0, step), or [from, to) in range mode' },
    low: { type: 'SIGMAS', help: 'Steps [step, N), or [to, N) in range mode; starts where high ends' },
  },
  params: {
    mode: { kind: 'enum', options: ['at_step', 'range', 'denoise'], default: 'at_step', label: 'Mode' },
    step: {
      kind: 'int',
      default: 10,
      min: 0,
      max: 10000,
      label: 'Split after step',
      help: 'Steps past the end of the schedule are clamped (high = all, low = none)',
      when: { param: 'mode', in: ['at_step'] },
    },
    from: { kind: 'int', default: 0, min: 0, max: 10000, label: 'From step', when: { param: 'mode', in: ['range'] } },
    to: { kind: 'int', default: 10, min: 0, max: 10000, label: 'To step', help: 'Exclusive; clamped to the schedule\'s length', when: { param: 'mode', in: ['range'] } },
    denoise: denoiseParam('The fraction of the steps `low` runs: round(N * denoise), halves to even as Python rounds (none: `high` is the whole schedule, where ComfyUI leaves `high` empty)', {
      param: 'mode',
      in: ['denoise'],
    }),
  },
  async execute(_ctx, inputs, params) {
    const { sigmas } = inputs;
    if (params.mode === 'at_step') return splitSigmasAt(sigmas, params.step);
    if (params.mode === 'denoise') return splitSigmasDenoise(sigmas, params.denoise);
    if (params.from > params.to) throw new NodeInputError(`from (${params.from}) must not be after to (${params.to})`);
    const n = sigmas.timesteps.length;
    const to = Math.min(params.to, n);
    const from = Math.min(params.from, to);
    return { high: sliceSigmas(sigmas, from, to), low: sliceSigmas(sigmas, to, n) };
  },
});

export default SplitSigmas;
