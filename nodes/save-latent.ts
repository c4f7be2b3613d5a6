/** SaveLatent: writes a latent as a NumPy .npy file (float32, C order) that np.load reads. */
import { extname } from 'node:path';
import { writeFileAtomic } from './core/io/atomic-write.ts';
import { writeNpy } from './core/io/npy.ts';
import { NodeInputError, defineNode } from './core/types.ts';

export const SaveLatent = defineNode({
  type: 'SaveLatent',
  version: 1,
  title: 'Save Latent',
  category: 'io',
  description: 'Writes the latent to a .npy file (relative names land in the run\'s output folder) and outputs the absolute path.',
  kind: 'side-effect',
  inputs: { latent: { type: 'LATENT' } },
  outputs: { path: { type: 'STRING' } },
  params: {
    filename: {
      kind: 'file',
      default: 'latent.npy',
      fileKind: 'latent',
      mode: 'write',
      extensions: ['.npy'],
      label: 'File name',
    },
  },
  async execute(ctx, inputs, params) {
    const path = ctx.files.resolveWrite(withExtension(params.filename, '.npy'));
    await writeFileAtomic(path, writeNpy(inputs.latent));
    return { path };
  },
});

/** Appends `ext` when the name has no extension; refuses a different one so files are not misnamed. */
export function withExtension(filename: string, ext: string): string {
  if (!filename) throw new NodeInputError('No file name given (param "filename" is empty)');
  const current = extname(filename);
  if (current === '') return filename + ext;
  if (current.toLowerCase() !== ext) {
    throw new NodeInputError(`File name "${filename}" must end in ${ext} (got "${current}")`);
  }
  return filename;
}

export default SaveLatent;
