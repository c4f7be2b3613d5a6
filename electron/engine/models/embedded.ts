/**
 * Models that ship inside FlowStudio: diffusers-ONNX folders generated on first use into the cache
 * (versioned, so a generator change regenerates them). Generation writes a temporary folder and renames
 * it into place, so a crash or two processes starting at once never leave a half-written model behind.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createGaussianParams } from '../../../nodes/sampling/gaussian.ts';
import { defaultCacheDir } from '../paths.ts';
import { makeDirs } from '../make-dirs.ts';
import {
  ANALYTIC_GENERATOR_VERSION,
  buildRfTransformer,
  buildVpContinuousUnet,
  buildVpUnet,
  RF_SCHEDULER_CONFIG,
  VP_CONTINUOUS_SCHEDULER_CONFIG,
  VP_SCHEDULER_CONFIG,
} from './analytic.ts';

export const EMBEDDED_PREFIX = 'embedded:';

export interface EmbeddedModelInfo {
  name: string;
  description: string;
  /** 'vp' (eps-prediction diffusion) or 'flow' (rectified-flow velocity). */
  kind: 'vp' | 'flow';
}

interface EmbeddedModelSpec extends EmbeddedModelInfo {
  pipelineClass: string;
  denoiser: 'unet' | 'transformer';
  scheduler: Record<string, unknown>;
  timestepUnits: 'scheduler' | 'fraction';
  build: () => Uint8Array;
}

const SPECS: readonly EmbeddedModelSpec[] = [
  {
    name: 'gaussian-vp',
    description:
      'Exact eps-prediction model for 3x16x16 Gaussian data; DDIM scheduler (scaled_linear betas), integer timesteps.',
    kind: 'vp',
    pipelineClass: 'FlowStudioGaussianPipeline',
    denoiser: 'unet',
    scheduler: VP_SCHEDULER_CONFIG,
    timestepUnits: 'scheduler',
    build: () => buildVpUnet(createGaussianParams()),
  },
  {
    name: 'gaussian-vp-continuous',
    description:
      'Exact eps-prediction model for 3x16x16 Gaussian data taking fractional timesteps; Euler discrete scheduler.',
    kind: 'vp',
    pipelineClass: 'FlowStudioGaussianPipeline',
    denoiser: 'unet',
    scheduler: VP_CONTINUOUS_SCHEDULER_CONFIG,
    timestepUnits: 'scheduler',
    build: () => buildVpContinuousUnet(createGaussianParams()),
  },
  {
    name: 'gaussian-rf',
    description: 'Exact rectified-flow velocity model for 3x16x16 Gaussian data, t in [0, 1]; flow-matching Euler scheduler.',
    kind: 'flow',
    pipelineClass: 'FlowStudioGaussianFlowPipeline',
    denoiser: 'transformer',
    scheduler: RF_SCHEDULER_CONFIG,
    timestepUnits: 'fraction',
    build: () => buildRfTransformer(createGaussianParams()),
  },
];

export const EMBEDDED_MODELS: readonly EmbeddedModelInfo[] = SPECS.map(({ name, description, kind }) =>
  Object.freeze({ name, description, kind }),
);

/** The embedded model's name in a ref "embedded:<name>", or undefined for other refs. */
export function embeddedName(ref: string): string | undefined {
  return ref.startsWith(EMBEDDED_PREFIX) ? ref.slice(EMBEDDED_PREFIX.length) : undefined;
}

function specOf(name: string): EmbeddedModelSpec {
  const spec = SPECS.find((s) => s.name === name);
  if (!spec) {
    throw new Error(`unknown embedded model "${name}" (available: ${SPECS.map((s) => s.name).join(', ')})`);
  }
  return spec;
}

/** A stamp that changes whenever the generated files would. */
export function embeddedStamp(name: string): string {
  specOf(name);
  return `embedded:${name}@v${ANALYTIC_GENERATOR_VERSION}`;
}

/** The folder an embedded model lives in (whether or not it was generated yet). */
export function embeddedModelFolder(name: string, cacheDir: string = defaultCacheDir()): string {
  specOf(name);
  return path.join(path.resolve(cacheDir), 'models', `embedded-v${ANALYTIC_GENERATOR_VERSION}`, name);
}

function modelIndex(spec: EmbeddedModelSpec): Record<string, unknown> {
  return {
    _class_name: spec.pipelineClass,
    _diffusers_version: '0.30.0',
    scheduler: ['diffusers', spec.scheduler._class_name],
    [spec.denoiser]: ['diffusers', 'OnnxRuntimeModel'],
    flowstudio: {
      analytic: spec.name,
      sample_dims: [...createGaussianParams().dims],
      timestep_units: spec.timestepUnits,
    },
  };
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

async function isComplete(folder: string, spec: EmbeddedModelSpec): Promise<boolean> {
  const needed = ['model_index.json', path.join('scheduler', 'scheduler_config.json'), path.join(spec.denoiser, 'model.onnx')];
  for (const f of needed) if (!(await exists(path.join(folder, f)))) return false;
  return true;
}

async function writeFolder(dir: string, spec: EmbeddedModelSpec): Promise<void> {
  await makeDirs(path.join(dir, 'scheduler'));
  await makeDirs(path.join(dir, spec.denoiser));
  await fs.writeFile(path.join(dir, spec.denoiser, 'model.onnx'), spec.build());
  await fs.writeFile(path.join(dir, 'scheduler', 'scheduler_config.json'), `${JSON.stringify(spec.scheduler, null, 2)}\n`);
  // model_index.json last: its presence marks a finished folder even on file systems without atomic rename.
  await fs.writeFile(path.join(dir, 'model_index.json'), `${JSON.stringify(modelIndex(spec), null, 2)}\n`);
}

async function generate(folder: string, spec: EmbeddedModelSpec): Promise<string> {
  if (await isComplete(folder, spec)) return folder;
  const parent = path.dirname(folder);
  await makeDirs(parent);
  const tmp = path.join(parent, `.tmp-${spec.name}-${process.pid}-${randomUUID()}`);
  try {
    await writeFolder(tmp, spec);
    try {
      await fs.rename(tmp, folder);
    } catch (e) {
      // Another process finished first (rename onto a non-empty folder fails): use its copy.
      if (await isComplete(folder, spec)) return folder;
      // A broken leftover (e.g. files deleted by hand): replace it.
      if (await exists(folder)) {
        await fs.rm(folder, { recursive: true, force: true });
        await fs.rename(tmp, folder);
      } else {
        throw e;
      }
    }
    return folder;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

const inFlight = new Map<string, Promise<string>>();

/** Generates the embedded model's folder if needed and returns its path. */
export async function ensureEmbeddedModel(name: string, cacheDir?: string): Promise<string> {
  const spec = specOf(name);
  const folder = embeddedModelFolder(name, cacheDir);
  let pending = inFlight.get(folder);
  if (!pending) {
    pending = generate(folder, spec).finally(() => inFlight.delete(folder));
    inFlight.set(folder, pending);
  }
  return pending;
}
