/**
 * Where a seed's noise comes from. 'flowstudio' is the default: Philox, bit-identical on every machine
 * (random.ts). 'torch' and 'comfyui' reproduce what those tools draw for the same seed on the CPU
 * (torch-random.ts), so that a seed copied from a diffusers script or a ComfyUI workflow gives the same
 * starting noise:
 *  - torch: one torch.Generator('cpu').manual_seed(seed) for everything, as a diffusers pipeline given
 *    that generator uses it: the initial latents (randn_tensor), then each noise a scheduler step draws;
 *  - comfyui: the initial noise as ComfyUI's prepare_noise draws it (the same first draw), and step noise
 *    from a second generator seeded with seed + 1, as its k-diffusion samplers' default noise sampler does
 *    on a CPU device since Comfy-Org/ComfyUI#11528 (before it, that generator took the seed itself and its
 *    first step noise repeated the initial noise, which made ancestral samplers on a CPU too noisy:
 *    ComfyUI issue #9819). On a GPU ComfyUI draws step noise from the GPU's own generator, which no CPU
 *    reproduces. Its SDE samplers (dpmpp_sde, dpmpp_2m_sde, dpmpp_3m_sde) take step noise from a
 *    Brownian tree on the CPU instead (brownian-tree.ts): `between` answers those.
 * diffusers' DPMSolverSDEScheduler draws no step noise from the generator either: it builds the same
 * torchsde tree, seeded by its config's noise_sampler_seed (`treeSeed`), over the whole schedule's levels.
 */
import { comfyBrownianNoise } from './brownian-tree.ts';
import { SeededNormal, sharedNormals } from './random.ts';
import { TorchCpuGenerator } from './torch-random.ts';

const TWO_POW_32 = 4294967296;

export const NOISE_GENERATORS = ['flowstudio', 'torch', 'comfyui'] as const;
export type NoiseGeneratorName = (typeof NOISE_GENERATORS)[number];

export const NOISE_GENERATOR_HELP =
  'flowstudio: Philox, the same on every machine; torch: torch.Generator("cpu").manual_seed(seed) and torch.randn, as diffusers draws with a CPU generator (the initial noise, then each step\'s noise from the same generator; DPM++ SDE, as diffusers\' DPMSolverSDEScheduler, from a Brownian tree seeded by the config\'s noise_sampler_seed, else by the seed); comfyui: ComfyUI\'s initial noise (the same draw), step noise from a second generator seeded with seed + 1, as ComfyUI on a CPU device (since its fix #11528), and for its SDE samplers (dpmpp_sde, dpmpp_2m_sde, dpmpp_3m_sde) the Brownian tree ComfyUI builds for the seed, on any device. torch keeps a seed\'s low 32 bits: enter a larger seed as its value mod 4294967296';

export interface SeededDraws {
  /** The initial noise: the first `size` normals. Read-only (it may be shared with other runs). */
  readonly initial: Float32Array;
  /** The next `n` normals a stochastic step draws. */
  next(n: number): Float32Array;
  /**
   * Step noise over the span from level `from` to level `to` of a run on `grid`, for generators that draw it
   * from a Brownian path (comfyui); undefined for the others, whose SDE steps take next().
   */
  between?(from: number, to: number, grid: readonly number[]): Float32Array;
}

export interface SeededDrawsOptions {
  /**
   * torch: step noise over spans comes from a Brownian tree with this seed (diffusers' DPMSolverSDEScheduler
   * and its noise_sampler_seed), answered by `between`; next() still draws from the generator.
   */
  treeSeed?: number;
}

/** The draws of one run: its initial noise of `size` elements, then the step noises, for a generator and seed. */
export function seededDraws(generator: NoiseGeneratorName, seed: number, size: number, opts: SeededDrawsOptions = {}): SeededDraws {
  switch (generator) {
    case 'flowstudio': {
      let stream: SeededNormal | undefined;
      return {
        // One stream: the step draws continue after the initial ones.
        initial: sharedNormals(seed, size),
        next(n) {
          stream ??= SeededNormal.after(seed, size);
          return stream.fill(new Float32Array(n));
        },
      };
    }
    case 'torch': {
      const gen = new TorchCpuGenerator(seed);
      const initial = gen.randn(size);
      const draws: SeededDraws = { initial, next: (n) => gen.randn(n) };
      if (opts.treeSeed !== undefined) draws.between = brownianBetween(opts.treeSeed, size);
      return draws;
    }
    case 'comfyui': {
      const initial = new TorchCpuGenerator(seed).randn(size);
      let steps: TorchCpuGenerator | undefined;
      return {
        initial,
        next(n) {
          // manual_seed(seed + 1): the generator keeps the low 32 bits, so this never overflows.
          steps ??= new TorchCpuGenerator(((seed % TWO_POW_32) + 1) % TWO_POW_32);
          return steps.randn(n);
        },
        between: brownianBetween(seed, size),
      };
    }
  }
}

/**
 * Noise over spans from the BrownianTreeNoiseSampler k-diffusion (ComfyUI) and diffusers both build: one tree
 * per grid, spanning its positive levels.
 */
function brownianBetween(seed: number, size: number): (from: number, to: number, grid: readonly number[]) => Float32Array {
  let tree: { noise: (sigma: number, next: number) => Float32Array; grid: readonly number[] } | undefined;
  return (from, to, grid) => {
    // Neither asks for noise on a step onto 0 (both return x0 there); its weight is 0 anyway.
    if (from === 0 || to === 0) return new Float32Array(size);
    if (tree === undefined || tree.grid !== grid) tree = { noise: brownianTree(seed, size, grid), grid };
    return tree.noise(Math.fround(from), Math.fround(to));
  };
}

/** The BrownianTreeNoiseSampler of a run: its tree spans the grid's positive levels, in float32. */
function brownianTree(seed: number, size: number, grid: readonly number[]): (sigma: number, next: number) => Float32Array {
  const positive = grid.filter((v) => v > 0);
  if (positive.length === 0) throw new Error('Brownian noise: the grid has no positive level');
  const sigmaMin = Math.fround(Math.min(...positive));
  const sigmaMax = Math.fround(Math.max(...positive));
  return comfyBrownianNoise({ sigmaMin, sigmaMax, size, seed });
}
