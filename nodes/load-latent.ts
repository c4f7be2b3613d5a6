/** LoadLatent: a latent from a NumPy .npy file (C order; see readNpy for the dtypes). */
import { fileStamp, readNpyParam } from './core/npy-param.ts';
import { NodeInputError, defineNode } from './core/types.ts';

export const LoadLatent = defineNode({
  type: 'LoadLatent',
  version: 1,
  title: 'Load Latent',
  category: 'io',
  description:
    'Reads a latent from a .npy file with its stored shape: [N, C, H, W], or [N, L, C] packed tokens (FLUX). Turn on "add batch axis" for a single [C, H, W] image latent.',
  inputs: {},
  outputs: { latent: { type: 'LATENT' } },
  params: {
    path: { kind: 'file', default: '', fileKind: 'latent', mode: 'read', extensions: ['.npy'], label: 'File' },
    add_batch_axis: { kind: 'boolean', default: false, label: 'Add batch axis', help: 'Read a 3-D array as one [C, H, W] latent: [1, C, H, W]' },
  },
  // The file's size and modification time, so an edited file is not served from the cache.
  async cacheSalt(params, ctx) {
    return fileStamp(() => ctx.files.resolveRead(params.path));
  },
  async execute(ctx, _inputs, params) {
    let latent = await readNpyParam(ctx, params.path, 'latent');
    if (params.add_batch_axis) {
      if (latent.rank !== 3) throw new NodeInputError(`Latent file "${params.path}" has shape ${latent.shapeString()}; "add batch axis" expects [C, H, W]`);
      latent = latent.reshape([1, ...latent.dims]);
    }
    if (latent.rank !== 3 && latent.rank !== 4) {
      throw new NodeInputError(`Latent file "${params.path}" has shape ${latent.shapeString()}; expected [N, C, H, W] or packed [N, L, C]`);
    }
    return { latent };
  },
});

export default LoadLatent;
