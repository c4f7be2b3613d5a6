/**
 * LoadNoise: noise for a Sampler from a .npy file, so a run can use exactly the noise another tool drew
 * (for example the `latents` a diffusers pipeline starts from, before it multiplies them by the
 * scheduler's init_noise_sigma). The Sampler reads the layout: the latent's shape is the initial noise;
 * [K, ...latent] adds, in slices 1..K-1, the noises stochastic steps draw, in the order they draw them.
 */
import { fileStamp, readNpyParam } from './core/npy-param.ts';
import { defineNode } from './core/types.ts';

export const LoadNoise = defineNode({
  type: 'LoadNoise',
  version: 1,
  title: 'Load Noise',
  category: 'sampling',
  description:
    'Reads noise from a .npy file for a Sampler: the initial noise (the latent\'s shape, unscaled standard normals), or [K, ...latent] with the per-step noises of stochastic solvers in slices 1..K-1. The shape is kept as stored.',
  inputs: {},
  outputs: { noise: { type: 'NOISE' } },
  params: {
    path: { kind: 'file', default: '', fileKind: 'latent', mode: 'read', extensions: ['.npy'], label: 'File' },
  },
  async cacheSalt(params, ctx) {
    return fileStamp(() => ctx.files.resolveRead(params.path));
  },
  async execute(ctx, _inputs, params) {
    return { noise: await readNpyParam(ctx, params.path, 'noise') };
  },
});

export default LoadNoise;
