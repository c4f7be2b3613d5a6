/** Every built-in node type. Adding a node = one file in nodes/ plus one line here. */
import { NodeRegistry } from '../electron/engine/registry.ts';
import { CFG } from './cfg.ts';
import { ClassLabel } from './class-label.ts';
import { ComfyCustomSchedule } from './comfy-custom-schedule.ts';
import { ComfySchedule } from './comfy-schedule.ts';
import type { AnyNodeDefinition } from './core/types.ts';
import { EmptyLatent } from './empty-latent.ts';
import { ExtendIntermediateSigmas } from './extend-intermediate-sigmas.ts';
import { FlipSigmas } from './flip-sigmas.ts';
import { ImageToLatent } from './image-to-latent.ts';
import { LatentToImage } from './latent-to-image.ts';
import { LoadImage } from './load-image.ts';
import { LoadConditioning } from './load-conditioning.ts';
import { LoadLatent } from './load-latent.ts';
import { LoadModel } from './load-model.ts';
import { LoadNoise } from './load-noise.ts';
import { ModelSampling } from './model-sampling.ts';
import { RandomNoise } from './random-noise.ts';
import { Sampler } from './sampler.ts';
import { Schedule } from './schedule.ts';
import { SplitSigmas } from './split-sigmas.ts';
import { SaveImage } from './save-image.ts';
import { SaveLatent } from './save-latent.ts';
import { SetFirstSigma } from './set-first-sigma.ts';
import { SolverCompare } from './solver-compare.ts';
import { TensorMetrics } from './tensor-metrics.ts';

export const BUILTIN_NODES: readonly AnyNodeDefinition[] = [
  LoadModel,
  ModelSampling,
  EmptyLatent,
  RandomNoise,
  LoadNoise,
  LoadLatent,
  LoadConditioning,
  ClassLabel,
  SaveLatent,
  LoadImage,
  SaveImage,
  LatentToImage,
  ImageToLatent,
  Schedule,
  ComfySchedule,
  ComfyCustomSchedule,
  SplitSigmas,
  FlipSigmas,
  SetFirstSigma,
  ExtendIntermediateSigmas,
  CFG,
  Sampler,
  SolverCompare,
  TensorMetrics,
];

export function createDefaultRegistry(): NodeRegistry {
  return new NodeRegistry(BUILTIN_NODES);
}
