/**
 * Flip Sigmas: ComfyUI's FlipSigmas. Any schedule walked backwards, from the clean end up to the noisiest
 * level, so that a Sampler fed it inverts ("unsamples") a clean latent with the levels of any schedule node
 * (Schedule, Schedule (ComfyUI), Schedule (ComfyUI custom), a Split Sigmas part). The model gives the new
 * start level its timestep.
 */
import { defineNode, NodeInputError } from './core/types.ts';
import { FLIP_START_LEVEL, flippedSigmas } from './sampling/inversion-sigmas.ts';
import { isMeanReverting } from './sampling/mean-reverting.ts';

export const FlipSigmas = defineNode({
  type: 'FlipSigmas',
  version: 1,
  title: 'Flip Sigmas',
  category: 'sampling',
  description: `Reverses a schedule, as ComfyUI's FlipSigmas does: a Sampler fed it (start auto or continue) inverts its latent from the schedule's last level up to its first. A last level of 0 becomes ${FLIP_START_LEVEL}, ComfyUI's start level.`,
  inputs: {
    model: { type: 'MODEL', help: 'Gives the new start level its model timestep' },
    sigmas: { type: 'SIGMAS', help: 'A descending schedule' },
  },
  outputs: {
    sigmas: { type: 'SIGMAS', help: 'The same levels, ascending' },
  },
  params: {},
  async execute(_ctx, inputs) {
    const { model, sigmas } = inputs;
    if (isMeanReverting(model.scheduler)) throw new NodeInputError('a mean-reverting (IR-SDE) model cannot be inverted: the MR Sampler walks only down', 'model');
    try {
      return { sigmas: flippedSigmas(sigmas, model.scheduler, model.modelIndex) };
    } catch (e) {
      throw new NodeInputError((e as Error).message, 'sigmas');
    }
  },
});

export default FlipSigmas;
