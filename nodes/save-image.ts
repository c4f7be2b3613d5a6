/** SaveImage: writes an 8-bit RGB PNG with the running graph embedded, so the image reopens as its graph. */
import { writeFileAtomic } from './core/io/atomic-write.ts';
import { encodePng } from './core/io/png.ts';
import { NodeInputError, defineNode } from './core/types.ts';
import { withExtension } from './save-latent.ts';

/** iTXt keyword holding the graph JSON (iTXt because prompts are Unicode and tEXt is Latin-1). */
export const GRAPH_TEXT_KEYWORD = 'flowstudio';

export const SaveImage = defineNode({
  type: 'SaveImage',
  version: 1,
  title: 'Save Image',
  category: 'image',
  description: 'Writes the image as a PNG (relative names land in the run\'s output folder) with the graph embedded, and outputs the absolute path.',
  kind: 'side-effect',
  inputs: { image: { type: 'IMAGE' } },
  outputs: { path: { type: 'STRING' } },
  params: {
    filename: {
      kind: 'file',
      default: 'image.png',
      fileKind: 'image',
      mode: 'write',
      extensions: ['.png'],
      label: 'File name',
    },
  },
  async execute(ctx, inputs, params) {
    const image = inputs.image;
    if (image.rank !== 4 || image.dims[0] !== 1 || image.dims[1] !== 3) {
      throw new NodeInputError(`Save Image takes one RGB image [1, 3, H, W], got ${image.shapeString()}`, 'image');
    }
    const graphJson = ctx.graph === undefined ? undefined : JSON.stringify(ctx.graph);
    const text: Record<string, string> = graphJson === undefined ? {} : { [GRAPH_TEXT_KEYWORD]: graphJson };
    const path = ctx.files.resolveWrite(withExtension(params.filename, '.png'));
    await writeFileAtomic(path, encodePng(image, { text }));
    return { path };
  },
});

export default SaveImage;
