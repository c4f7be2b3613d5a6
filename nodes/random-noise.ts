/** RandomNoise: seeded standard-normal noise, reproducible across machines (Philox + Box-Muller). */
import { randomNormal } from './core/random.ts';
import { defineNode } from './core/types.ts';
import { LATENT_SIZE_PARAMS, latentDims } from './empty-latent.ts';

export const RandomNoise = defineNode({
  type: 'RandomNoise',
  version: 1,
  title: 'Random Noise',
  category: 'latent',
  description: 'Standard normal noise from a seed. Connect a latent to `like` to take its shape instead of the size params.',
  inputs: {
    like: { type: 'LATENT', optional: true, help: 'When connected, the noise takes this latent\'s shape' },
  },
  outputs: { noise: { type: 'NOISE' } },
  params: {
    seed: { kind: 'seed', default: 0, label: 'Seed' },
    ...LATENT_SIZE_PARAMS,
  },
  async execute(_ctx, inputs, params) {
    const dims = inputs.like ? inputs.like.dims : latentDims(params);
    return { noise: randomNormal(dims, params.seed) };
  },
});

export default RandomNoise;
