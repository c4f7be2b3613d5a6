/** LatentToImage: for pixel-space models (no VAE) the latent is the image in [-1, 1]; map it to [0, 1]. */
import { Tensor } from './core/tensor.ts';
import { NodeInputError, defineNode } from './core/types.ts';

export const LatentToImage = defineNode({
  type: 'LatentToImage',
  version: 1,
  title: 'Latent to Image',
  category: 'image',
  description: 'Pixel-space latent x in [-1, 1] to image (x + 1) / 2, clamped to [0, 1]. Needs 3 channels.',
  inputs: { latent: { type: 'LATENT' } },
  outputs: { image: { type: 'IMAGE' } },
  params: {},
  async execute(_ctx, inputs) {
    const latent = inputs.latent;
    checkRgb(latent, 'latent');
    const out = new Float32Array(latent.size);
    const x = latent.data;
    for (let i = 0; i < x.length; i++) {
      const v = (x[i] + 1) / 2;
      out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    return { image: new Tensor(latent.dims, out) };
  },
});

/** A finite NCHW tensor with 3 channels, as both directions of the pixel-space map need. */
export function checkRgb(t: Tensor, port: string): void {
  if (t.rank !== 4 || t.dims[1] !== 3) {
    throw new NodeInputError(`Input "${port}" must be [N, 3, H, W] (RGB, pixel space), got ${t.shapeString()}`, port);
  }
  const bad = t.firstNonFinite();
  if (bad >= 0) throw new NodeInputError(`Input "${port}" has a non-finite value (${t.data[bad]}) at element ${bad}`, port);
}

export default LatentToImage;
