/**
 * Sampler: runs a solver from noise (or, with denoise < 1, from a noised start latent) down a model's
 * schedule, the way the diffusers pipelines do: pure noise scaled by init_noise_sigma, or img2img's
 * add_noise at the start step chosen by `denoise` (diffusers `strength`).
 */
import { SeededNormal } from './core/random.ts';
import { Tensor } from './core/tensor.ts';
import { defineNode, NodeInputError } from './core/types.ts';
import type { SigmaSpace, Sigmas } from './core/values.ts';
import { bindDenoiser, checkLatentShape, createDenoiseFn } from './sampling/denoiser.ts';
import { ddimOptionsFromConfig } from './sampling/ddim.ts';
import { sigmaSpace } from './sampling/model-time.ts';
import { linearCombination, scale, type NoiseSource } from './sampling/ops.ts';
import { runSampler } from './sampling/sampler-loop.ts';
import { buildSigmas, initNoiseSigma } from './sampling/schedules.ts';
import { createSolver } from './sampling/solver-registry.ts';
import { checkSigmas, modelInputScale } from './sampling/solver.ts';

/**
 * The tail of a grid that a partial denoise runs, by diffusers img2img's rule: the last
 * min(floor(N * denoise), N) steps.
 */
export function denoiseTail(sigmas: Sigmas, denoise: number): Sigmas {
  const n = sigmas.timesteps.length;
  const start = n - Math.min(Math.floor(n * denoise), n);
  if (start === 0) return sigmas;
  const out: Sigmas = { ...sigmas, sigmas: sigmas.sigmas.slice(start), timesteps: sigmas.timesteps.slice(start) };
  if (sigmas.targets) out.targets = sigmas.targets.slice(start);
  return out;
}

/** A start latent noised to level s (scheduler add_noise): VE x0 + s*eps, flow (1 - s) x0 + s*eps. */
export function noiseToLevel(x0: Tensor, noise: Tensor, sigma: number, space: SigmaSpace): Tensor {
  return linearCombination([
    [space === 'flow' ? 1 - sigma : 1, x0],
    [sigma, noise],
  ]);
}

/** Image tokens of a latent, for FLUX-style dynamic shifting: [B, L, C] packed, or [B, C, H, W] in 2x2 patches. */
function imageSeqLen(dims: readonly number[]): number | undefined {
  if (dims.length === 3) return dims[1];
  if (dims.length === 4) return Math.floor(dims[2] / 2) * Math.floor(dims[3] / 2);
  return undefined;
}

export const Sampler = defineNode({
  type: 'Sampler',
  version: 1,
  title: 'Sampler',
  category: 'sampling',
  description:
    'Denoises from seeded noise down the model\'s schedule with DDIM or Euler. With denoise < 1 the latent is the start image, noised to the start step (img2img strength).',
  inputs: {
    model: { type: 'MODEL' },
    latent: { type: 'LATENT', help: 'Shape of the result; with denoise < 1 also the start image' },
    noise: { type: 'NOISE', optional: true, help: 'Initial noise; generated from the seed when absent' },
    sigmas: { type: 'SIGMAS', optional: true, help: 'Sampling grid; built from the model\'s scheduler config and steps when absent' },
  },
  outputs: {
    latent: { type: 'LATENT', help: 'The final sample in the model\'s data variables' },
    denoised: { type: 'LATENT', help: 'The last x0 prediction' },
  },
  params: {
    solver: { kind: 'enum', options: ['ddim', 'euler'], default: 'ddim', label: 'Solver' },
    steps: { kind: 'int', default: 20, min: 1, max: 1000, label: 'Steps', help: 'Used when no sigmas are connected' },
    seed: { kind: 'seed', default: 0, label: 'Seed' },
    eta: { kind: 'float', default: 0, min: 0, max: 1, label: 'Eta', help: 'DDIM noise: 0 deterministic, 1 DDPM-like', when: { param: 'solver', in: ['ddim'] } },
    denoise: { kind: 'float', default: 1, min: 0, max: 1, label: 'Denoise', help: 'Fraction of the schedule to run (img2img strength)' },
  },
  async execute(ctx, inputs, params) {
    const { model, latent } = inputs;
    const binding = bindDenoiser(model);
    try {
      checkLatentShape(binding, latent.dims);
    } catch (e) {
      throw new NodeInputError((e as Error).message, 'latent');
    }
    const space = sigmaSpace(model.modelIndex, model.scheduler);
    const full = inputs.sigmas ?? buildSigmas(model.scheduler, model.modelIndex, params.steps, params.solver, { imageSeqLen: imageSeqLen(latent.dims) });
    checkSigmas(full);
    if (full.space !== space) {
      throw new NodeInputError(`the sigmas are for a "${full.space}" model but this model is "${space}"`, 'sigmas');
    }
    const sigmas = denoiseTail(full, params.denoise);
    const partial = sigmas !== full;
    const steps = sigmas.timesteps.length;

    // One seeded stream: the initial noise first (same draws as RandomNoise with this seed), then the
    // per-step noise. The initial draws are consumed even when noise is connected, so step noise never
    // repeats a connected RandomNoise with the same seed.
    const rng = new SeededNormal(params.seed);
    const drawn = new Tensor(latent.dims);
    rng.fill(drawn.data);
    const noise = inputs.noise ?? drawn;
    if (!noise.sameShape(latent)) {
      throw new NodeInputError(`noise shape ${noise.shapeString()} does not match the latent shape ${latent.shapeString()}`, 'noise');
    }
    if (steps === 0) return { latent: latent.clone(), denoised: latent.clone() };
    const stepNoise: NoiseSource = (dims) => {
      const t = new Tensor(dims);
      rng.fill(t.data);
      return t;
    };

    const x = partial
      ? noiseToLevel(latent, noise, sigmas.sigmas[0], space)
      : scale(noise, initNoiseSigma(sigmas, model.scheduler));
    const solver = createSolver(params.solver, { ddim: ddimOptionsFromConfig(model.scheduler, params.eta) });
    const result = await runSampler({
      solver,
      sigmas,
      x,
      model: createDenoiseFn(model, { space, signal: ctx.signal }),
      noise: stepNoise,
      beforeModelCall: () => ctx.throwIfAborted(),
      onStep: (i, n, state) => ctx.progress(i + 1, n, state.denoised),
    });
    const last = sigmas.sigmas[sigmas.sigmas.length - 1];
    return { latent: scale(result.x, modelInputScale(space, last)), denoised: result.denoised };
  },
});

export default Sampler;
