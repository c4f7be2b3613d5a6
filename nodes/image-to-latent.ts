/** ImageToLatent: the inverse of LatentToImage for pixel-space models, [0, 1] -> [-1, 1] (2x - 1, not clamped). */
import { Tensor } from './core/tensor.ts';
import { defineNode } from './core/types.ts';
import { checkRgb } from './latent-to-image.ts';

export const ImageToLatent = defineNode({
  type: 'ImageToLatent',
  version: 1,
  title: 'Image to Latent',
  category: 'latent',
  description: 'Image in [0, 1] to pixel-space latent 2x - 1 in [-1, 1].',
  inputs: { image: { type: 'IMAGE' } },
  outputs: { latent: { type: 'LATENT' } },
  params: {},
  async execute(_ctx, inputs) {
    const image = inputs.image;
    checkRgb(image, 'image');
    const out = new Float32Array(image.size);
    const x = image.data;
    for (let i = 0; i < x.length; i++) out[i] = 2 * x[i] - 1;
    return { latent: new Tensor(image.dims, out) };
  },
});

export default ImageToLatent;
