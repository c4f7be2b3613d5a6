/** EmptyLatent: an all-zero latent of a chosen size (the starting point for img2img-free graphs and tests). */
import { checkTensorSize, Tensor } from './core/tensor.ts';
import { defineNode, NodeInputError } from './core/types.ts';

/** Size params shared with RandomNoise. Sizes are in latent elements (pixels for pixel-space models). */
export const LATENT_SIZE_PARAMS = {
  width: { kind: 'int', default: 16, min: 1, max: 16384, label: 'Width', help: 'Latent width in elements' },
  height: { kind: 'int', default: 16, min: 1, max: 16384, label: 'Height', help: 'Latent height in elements' },
  channels: { kind: 'int', default: 3, min: 1, max: 1024, label: 'Channels' },
  batch: { kind: 'int', default: 1, min: 1, max: 4096, label: 'Batch' },
  layout: {
    kind: 'enum',
    options: ['nchw', 'packed'],
    default: 'nchw',
    label: 'Layout',
    help: 'nchw: [batch, channels, height, width]; packed: FLUX transformers\' [batch, (height/2)(width/2), 4 channels] (2x2 patches as tokens)',
  },
} as const;

/** The dims the size params describe: NCHW, or the packed token layout of FLUX-style transformers. */
export function latentDims(p: { width: number; height: number; channels: number; batch: number; layout?: string }): number[] {
  if (p.layout === 'packed' && (p.height % 2 || p.width % 2)) throw new NodeInputError(`a packed latent needs an even height and width (2x2 patches), got ${p.height} x ${p.width}`);
  const dims = p.layout === 'packed' ? [p.batch, (p.height / 2) * (p.width / 2), 4 * p.channels] : [p.batch, p.channels, p.height, p.width];
  // Each size param is within its range; their product may still be more than a tensor can hold.
  try {
    checkTensorSize(dims, 'the latent');
  } catch (e) {
    throw new NodeInputError((e as Error).message);
  }
  return dims;
}

export const EmptyLatent = defineNode({
  type: 'EmptyLatent',
  version: 1,
  title: 'Empty Latent',
  category: 'latent',
  description: 'A latent of zeros: [batch, channels, height, width], or packed [batch, (height/2)(width/2), 4 channels] for FLUX-style transformers.',
  inputs: {},
  outputs: { latent: { type: 'LATENT' } },
  params: LATENT_SIZE_PARAMS,
  async execute(_ctx, _inputs, params) {
    return { latent: Tensor.zeros(latentDims(params)) };
  },
});

export default EmptyLatent;
