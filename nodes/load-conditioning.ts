/**
 * LoadConditioning: one named model input (text embeddings and the like) from a .npy file, for a
 * Sampler's conditioning or a CFG node's negative side. Chain several through `base` to fill every extra
 * input a denoiser declares: SD 1.x/2.x encoder_hidden_states; SDXL also text_embeds and time_ids; SD3
 * encoder_hidden_states and pooled_projections; FLUX also pooled_projections, txt_ids, img_ids and
 * guidance. Arrays are fed with their stored shape; the model call checks them against the declared
 * input and names the input when they do not fit.
 */
import type { Conditioning } from './core/values.ts';
import { fileStamp, readNpyParam } from './core/npy-param.ts';
import { NodeInputError, defineNode } from './core/types.ts';

/** Model input names as ONNX exports write them: letters, digits, '_', '.', ':', '/' and '-'. */
const INPUT_NAME = /^[A-Za-z_][\w.:/-]*$/;

export const LoadConditioning = defineNode({
  type: 'LoadConditioning',
  version: 1,
  title: 'Load Conditioning',
  category: 'conditioning',
  description:
    'Reads one model input (e.g. encoder_hidden_states from a text encoder) from a .npy file and adds it to the connected conditioning. Chain one per input the denoiser declares beyond sample and timestep.',
  inputs: {
    base: { type: 'CONDITIONING', optional: true, help: 'Inputs loaded so far (another Load Conditioning); this one is added to them' },
  },
  outputs: { conditioning: { type: 'CONDITIONING' } },
  params: {
    input: {
      kind: 'string',
      default: 'encoder_hidden_states',
      label: 'Model input',
      help: 'Name of the denoiser input this array feeds, as the ONNX model declares it (flowstudio models lists them)',
    },
    path: { kind: 'file', default: '', fileKind: 'any', mode: 'read', extensions: ['.npy'], label: 'File' },
  },
  async cacheSalt(params, ctx) {
    return fileStamp(() => ctx.files.resolveRead(params.path));
  },
  async execute(ctx, inputs, params) {
    const name = params.input.trim();
    if (!INPUT_NAME.test(name)) throw new NodeInputError(`"${params.input}" is not a model input name (param "input")`);
    const base = inputs.base?.feeds ?? {};
    if (name in base) throw new NodeInputError(`model input "${name}" is already set by the connected conditioning`, 'base');
    const tensor = await readNpyParam(ctx, params.path, `model input "${name}"`, 'path', 'no-nan');
    const conditioning: Conditioning = { feeds: { ...base, [name]: tensor } };
    return { conditioning };
  },
});

export default LoadConditioning;
