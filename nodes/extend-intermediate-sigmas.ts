/**
 * Extend Intermediate Sigmas: ComfyUI's ExtendIntermediateSigmas. Splits the steps that start inside a
 * range of levels into several smaller ones (more model calls where the schedule's steps are coarse), each
 * new level called at its own model timestep.
 */
import { defineNode, NodeInputError } from './core/types.ts';
import { gridTimestepAt } from './sampling/level-timestep.ts';
import { imageSeqLenOfLatent } from './sampling/schedule-flow.ts';
import { EXTEND_SPACINGS, extendIntermediateSigmas } from './sampling/sigmas-edit.ts';

export const ExtendIntermediateSigmas = defineNode({
  type: 'ExtendIntermediateSigmas',
  version: 1,
  title: 'Extend Intermediate Sigmas',
  category: 'sampling',
  description:
    'ComfyUI\'s ExtendIntermediateSigmas: every step that starts at a level between end_at_sigma and start_at_sigma becomes `steps` steps, the new levels spaced linearly, or by sin (cosine: denser near the next level) or 1 - cos (sine: denser near the step\'s start). A part of a longer schedule keeps its place in it (a head stays a head).',
  inputs: {
    model: { type: 'MODEL', help: 'Gives the new levels their model timesteps' },
    sigmas: { type: 'SIGMAS' },
    latent: { type: 'LATENT', optional: true, help: 'FLUX-type models on a ComfyUI grid: their table depends on the image size' },
  },
  outputs: {
    sigmas: { type: 'SIGMAS', help: 'The schedule with the new levels' },
  },
  params: {
    steps: { kind: 'int', default: 2, min: 1, max: 100, label: 'Steps per step', help: 'How many steps each split step becomes (1: unchanged)' },
    start_at_sigma: { kind: 'float', default: -1, min: -1, max: 20000, step: 0.01, label: 'Start at sigma', help: 'The highest level whose step is split; -1: no bound' },
    end_at_sigma: { kind: 'float', default: 12, min: 0, max: 20000, step: 0.01, label: 'End at sigma', help: 'The lowest level whose step is split (flow models: t in [0, 1])' },
    spacing: { kind: 'enum', options: EXTEND_SPACINGS, default: 'linear', label: 'Spacing' },
  },
  async execute(_ctx, inputs, params) {
    const { model, sigmas, latent } = inputs;
    try {
      const timestepOf = gridTimestepAt(model.scheduler, model.modelIndex, sigmas, latent ? imageSeqLenOfLatent(latent.dims) : undefined);
      return { sigmas: extendIntermediateSigmas(sigmas, { steps: params.steps, startAt: params.start_at_sigma, endAt: params.end_at_sigma, spacing: params.spacing }, timestepOf) };
    } catch (e) {
      throw new NodeInputError((e as Error).message, 'sigmas');
    }
  },
});

export default ExtendIntermediateSigmas;
