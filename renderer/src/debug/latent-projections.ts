/**
 * Fixed linear latent -> RGB projections for 4-channel Stable Diffusion latents: rgb = latent . M + bias,
 * giving roughly [-1, 1] per colour. They act on latents in the denoiser's space (already multiplied by the
 * VAE's scaling factor, i.e. what a sampler produces). Factors as ComfyUI's latent previews use them
 * (comfy/latent_formats.py, SD15 and SDXL), one row per latent channel, columns R, G, B.
 */
export interface LatentProjection {
  /** channels x 3 */
  matrix: readonly (readonly [number, number, number])[];
  bias: readonly [number, number, number];
}

export const LATENT_PROJECTIONS = {
  sd15: {
    matrix: [
      [0.3512, 0.2297, 0.3227],
      [0.325, 0.4974, 0.235],
      [-0.2829, 0.1762, 0.2721],
      [-0.212, -0.2616, -0.7177],
    ],
    bias: [0, 0, 0],
  },
  sdxl: {
    matrix: [
      [0.3651, 0.4232, 0.4341],
      [-0.2533, -0.0042, 0.1068],
      [0.1076, 0.1111, -0.0362],
      [-0.3165, -0.2492, -0.2188],
    ],
    bias: [0.1084, -0.0175, -0.0011],
  },
} as const satisfies Record<string, LatentProjection>;

export type LatentProjectionName = keyof typeof LATENT_PROJECTIONS;
