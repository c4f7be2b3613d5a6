/** EmptyLatent: an all-zero latent of a chosen size (the starting point for img2img-free graphs and tests). */
import { Tensor } from './core/tensor.ts';
import { defineNode } from './core/types.ts';

/** Size params shared with RandomNoise. Sizes are in latent elements (pixels for pixel-space models). */
export const LATENT_SIZE_PARAMS = {
  width: { kind: 'int', default: 16, min: 1, max: 16384, label: 'Width', help: 'Latent width in elements' },
  height: { kind: 'int', default: 16, min: 1, max: 16384, label: 'Height', help: 'Latent height in elements' },
  channels: { kind: 'int', default: 3, min: 1, max: 1024, label: 'Channels' },
  batch: { kind: 'int', default: 1, min: 1, max: 4096, label: 'Batch' },
} as const;

/** NCHW dims from the size params. */
export function latentDims(p: { width: number; height: number; channels: number; batch: number }): number[] {
  return [p.batch, p.channels, p.height, p.width];
}

export const EmptyLatent = defineNode({
  type: 'EmptyLatent',
  version: 1,
  title: 'Empty Latent',
  category: 'latent',
  description: 'A latent of zeros with shape [batch, channels, height, width].',
  inputs: {},
  outputs: { latent: { type: 'LATENT' } },
  params: LATENT_SIZE_PARAMS,
  async execute(_ctx, _inputs, params) {
    return { latent: Tensor.zeros(latentDims(params)) };
  },
});

export default EmptyLatent;
