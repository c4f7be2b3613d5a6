/** LoadLatent: a latent from a NumPy .npy file (float32 or float64, C order). */
import { readFile, stat } from 'node:fs/promises';
import { readNpy } from './core/io/npy.ts';
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
    if (!params.path) throw new NodeInputError('No .npy file chosen (param "path" is empty)');
    const file = ctx.files.resolveRead(params.path);
    let latent;
    try {
      latent = readNpy(await readFile(file));
    } catch (e) {
      throw new NodeInputError(`Cannot load latent from "${params.path}": ${(e as Error).message}`);
    }
    if (latent.rank === 3) latent = latent.reshape([1, ...latent.dims]);
    if (latent.rank !== 4) {
      throw new NodeInputError(`Latent file "${params.path}" has shape ${latent.shapeString()}; expected [N, C, H, W] or [C, H, W]`);
    }
    return { latent };
  },
});

/** size:mtime of a resolved file, or a marker when it cannot be resolved (execute then reports why). */
export async function fileStamp(resolvePath: () => string): Promise<string> {
  try {
    const s = await stat(resolvePath());
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return 'unresolved';
  }
}

export default LoadLatent;
