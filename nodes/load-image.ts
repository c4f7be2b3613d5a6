/** LoadImage: an RGB image from a PNG, plus the FlowStudio graph embedded in it (if any). */
import { readFile } from 'node:fs/promises';
import { decodePng } from './core/io/png.ts';
import { NodeInputError, defineNode } from './core/types.ts';
import { fileStamp } from './core/npy-param.ts';
import { GRAPH_TEXT_KEYWORD } from './save-image.ts';

export const LoadImage = defineNode({
  type: 'LoadImage',
  version: 1,
  title: 'Load Image',
  category: 'image',
  description: 'Reads a PNG as an RGB image in [0, 1] (alpha dropped) and outputs the graph JSON embedded by Save Image, or an empty string.',
  inputs: {},
  outputs: { image: { type: 'IMAGE' }, graph: { type: 'STRING' } },
  params: {
    path: { kind: 'file', default: '', fileKind: 'image', mode: 'read', extensions: ['.png'], label: 'File' },
  },
  async cacheSalt(params, ctx) {
    return fileStamp(() => ctx.files.resolveRead(params.path));
  },
  async execute(ctx, _inputs, params) {
    if (!params.path) throw new NodeInputError('No .png file chosen (param "path" is empty)');
    const file = ctx.files.resolveRead(params.path);
    try {
      const { image, text } = decodePng(await readFile(file));
      return { image, graph: text[GRAPH_TEXT_KEYWORD] ?? '' };
    } catch (e) {
      throw new NodeInputError(`Cannot load image from "${params.path}": ${(e as Error).message}`);
    }
  },
});

export default LoadImage;
