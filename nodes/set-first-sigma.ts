/**
 * Set First Sigma: ComfyUI's SetFirstSigma. The first step of a schedule starts from another level (a
 * stronger or gentler start than the schedule's own, say for img2img), called at that level's model
 * timestep; the rest of the schedule is kept.
 */
import { comfyModelSamplingFor } from './comfy-schedule.ts';
import { defineNode, NodeInputError } from './core/types.ts';
import { comfyStartScale } from './sampling/comfy-schedules.ts';
import { gridTimestepAt } from './sampling/level-timestep.ts';
import { imageSeqLenOfLatent } from './sampling/schedule-flow.ts';
import { setFirstLevel } from './sampling/sigmas-edit.ts';

export const SetFirstSigma = defineNode({
  type: 'SetFirstSigma',
  version: 1,
  title: 'Set First Sigma',
  category: 'sampling',
  description:
    'ComfyUI\'s SetFirstSigma: the schedule\'s first level replaced by `sigma` (VE sigma on VP models, t in (0, 1] on flow models), with that level\'s model timestep. On a ComfyUI grid the start noise is scaled as KSampler scales it for that level.',
  inputs: {
    model: { type: 'MODEL', help: 'Gives the new level its model timestep' },
    sigmas: { type: 'SIGMAS' },
    latent: { type: 'LATENT', optional: true, help: 'FLUX-type models on a ComfyUI grid: their table depends on the image size' },
  },
  outputs: {
    sigmas: { type: 'SIGMAS', help: 'The schedule starting from the new level' },
  },
  params: {
    sigma: { kind: 'float', default: 136, min: 0, max: 20000, step: 0.001, label: 'Sigma', help: 'The first level (ComfyUI\'s default 136 is far above SD\'s 14.6, a start from almost pure noise)' },
  },
  async execute(_ctx, inputs, params) {
    const { model, sigmas, latent } = inputs;
    const comfy = sigmas.offGridTimesteps === 'comfyui';
    try {
      const ms = comfy ? comfyModelSamplingFor(model, latent) : undefined;
      const timestepOf = gridTimestepAt(model.scheduler, model.modelIndex, sigmas, latent ? imageSeqLenOfLatent(latent.dims) : undefined);
      return { sigmas: setFirstLevel(sigmas, params.sigma, timestepOf, ms && ((s) => comfyStartScale(ms, s))) };
    } catch (e) {
      if (e instanceof NodeInputError) throw e;
      throw new NodeInputError((e as Error).message, 'sigmas');
    }
  },
});

export default SetFirstSigma;
