/** LoadModel: opens a diffusers-ONNX folder, a single .onnx (with sidecar JSON) or an embedded model. */
import { defineNode } from './core/types.ts';
import { pipelineConvention, sigmaSpace } from './sampling/model-time.ts';

export const LoadModel = defineNode({
  type: 'LoadModel',
  version: 1,
  title: 'Load Model',
  category: 'model',
  description:
    'Opens a diffusion or rectified-flow model: a diffusers-ONNX folder (model_index.json, unet/ or transformer/, ' +
    'scheduler/), a single .onnx file with a sidecar .json holding its scheduler config, or a built-in model ' +
    '("embedded:gaussian-vp", "embedded:gaussian-vp-continuous", "embedded:gaussian-rf").',
  inputs: {},
  outputs: { model: { type: 'MODEL', label: 'Model' } },
  params: {
    model: {
      kind: 'file',
      fileKind: 'model',
      mode: 'read',
      default: 'embedded:gaussian-vp',
      label: 'Model',
      help: 'A diffusers-ONNX folder, a .onnx file with a sidecar .json, or embedded:<name>',
    },
  },
  // The model's files can change on disk under the same path: their stamp keeps the cache truthful.
  cacheSalt: (params, ctx) => ctx.models.stamp(params.model),
  async execute(ctx, _inputs, params) {
    const model = await ctx.models.load(params.model, ctx.signal);
    // A pipeline whose conventions FlowStudio refuses, or malformed flowstudio.* keys, fail here, on the
    // node that opened the folder, rather than at the first Sampler.
    pipelineConvention(model.modelIndex);
    sigmaSpace(model.modelIndex, model.scheduler);
    return { model };
  },
});

export default LoadModel;
