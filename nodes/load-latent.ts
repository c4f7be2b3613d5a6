/** LoadLatent: a latent from a NumPy .npy file (float32 or float64, C order). */
import { fileStamp, readNpyParam } from './core/npy-param.ts';
import { NodeInputError, defineNode } from './core/types.ts';

export const LoadLatent = defineNode({
  type: 'LoadLatent',
  version: 1,
  title: 'Load Latent',
  category: 'io',
  description: 'Reads a latent from a .npy file. A 3-D array [C, H, W] gets a batch axis; 4-D [N, C, H, W] is used as is.',
  inputs: {},
  outputs: { latent: { type: 'LATENT' } },
  params: {
    path: { kind: 'file', default: '', fileKind: 'latent', mode: 'read', extensions: ['.npy'], label: 'File' },
  },
  // The file's size and modification time, so an edited file is not served from the cache.
  async cacheSalt(params, ctx) {
    return fileStamp(() => ctx.files.resolveRead(params.path));
  },
  async execute(ctx, _inputs, params) {
    let latent = await readNpyParam(ctx, params.path, 'latent');
    if (latent.rank === 3) latent = latent.reshape([1, ...latent.dims]);
    if (latent.rank !== 4) {
      throw new NodeInputError(`Latent file "${params.path}" has shape ${latent.shapeString()}; expected [N, C, H, W] or [C, H, W]`);
    }
    return { latent };
  },
});

export default LoadLatent;
