/**
 * RandomNoise: seeded standard-normal noise, reproducible across machines (Philox + Box-Muller), or the
 * noise torch.randn draws for the seed on the CPU (diffusers with a CPU generator, ComfyUI).
 */
import { randomNormal } from './core/random.ts';
import { torchRandn } from './core/torch-random.ts';
import { Tensor } from './core/tensor.ts';
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
    generator: {
      kind: 'enum',
      options: ['flowstudio', 'torch'],
      default: 'flowstudio',
      label: 'Generator',
      help: 'flowstudio: Philox, the same on every machine; torch: torch.manual_seed(seed) then torch.randn(shape) on the CPU, the noise diffusers (with a CPU generator) and ComfyUI start from',
    },
    ...LATENT_SIZE_PARAMS,
  },
  async execute(_ctx, inputs, params) {
    const dims = inputs.like ? inputs.like.dims : latentDims(params);
    if (params.generator === 'torch') return { noise: new Tensor(dims, torchRandn(dims.reduce((a, b) => a * b, 1), params.seed)) };
    return { noise: randomNormal(dims, params.seed) };
  },
});

export default RandomNoise;
