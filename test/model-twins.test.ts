/**
 * Tiny twins of real diffusers-ONNX model folders (test/helpers/twins.ts: the real input / output names,
 * element types, ranks and symbolic dims of the SD 1.x, SD-Turbo, SDXL, SD3, FLUX and Sana Sprint exports, and each
 * family's real scheduler_config.json and model_index.json _class_name), sampled end to end through the
 * engine with their extra inputs fed by LoadConditioning (chained through `base`) and the initial noise by
 * LoadNoise.
 *
 * Every twin outputs a * sample + sum_k w_k * mean(input_k), so from a recorded trajectory each model
 * call's offset (output - a * model input) tells which timestep and which conditioning reached the model,
 * and whether the sample arrived scaled as diffusers' scale_model_input scales it (the offset is then the
 * same for every element of a sample). Final latents are compared with independent loops written here from
 * diffusers' schedulers and pipelines (DDIM, Euler discrete, FlowMatch Euler; CFG as the pipelines do it).
 *
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../electron/engine/engine.ts';
import { OnnxModelService } from '../electron/engine/models/model-service.ts';
import { SessionPool } from '../electron/engine/onnx/session-pool.ts';
import { writeNpy } from '../nodes/core/io/npy.ts';
import { paramDefaults } from '../nodes/core/params.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import { randomNormal } from '../nodes/core/random.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import type { Conditioning, Guidance, ModelHandle, Trajectory } from '../nodes/core/values.ts';
import { Sampler } from '../nodes/sampler.ts';
import { linspaceF32 } from '../nodes/sampling/torch-linspace.ts';
import { relL2 } from './sampling-fake-model.ts';
import { createTestEngine, graph, tempDir } from './helpers/engine.ts';
import {
  type Arr,
  flowMatchStaticSigmas,
  flowModelTimestep,
  fluxSigmas,
  fluxTwin,
  SCHEDULERS,
  scaledLinearAlphasCumprod,
  sd15LegacyTwin,
  sd15Twin,
  lumina2Twin,
  sanaSprintTwin,
  zImageTwin,
  ditTwin,
  hunyuanImageTwin,
  sd3Twin,
  sdTurboTwin,
  sdxlTwin,
  twinOffset,
  twinOutput,
  type TwinSpec,
  vpSigma,
  writeTwin,
} from './helpers/twins.ts';

let dir: string;
let engine: Engine;
const pool = new SessionPool({ providers: ['cpu'] });
const service = new OnnxModelService({ pool, providers: ['cpu'] });
const ABAR = scaledLinearAlphasCumprod();

beforeAll(() => {
  dir = tempDir('fs-model-twins-');
  engine = createTestEngine({ readRoots: [dir] });
});
afterAll(async () => {
  await engine.dispose();
  await pool.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// helpers

async function twinFolder(name: string, spec: TwinSpec): Promise<string> {
  return writeTwin(path.join(dir, name), spec);
}

async function npy(name: string, t: Tensor): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, writeNpy(t));
  return file;
}

/** A tensor whose sample b holds values with mean means[b] (a ramp around it, so it is not constant). */
function withMeans(dims: number[], means: number[]): Tensor {
  const t = new Tensor(dims);
  const per = t.size / dims[0];
  for (let b = 0; b < dims[0]; b++) for (let i = 0; i < per; i++) t.data[b * per + i] = means[b] + 0.1 * ((i % 5) - 2);
  return t;
}

/** FLUX latent_image_ids for an h x w grid of 2x2 patches: rows [0, i, j] (diffusers _prepare_latent_image_ids). */
function fluxImageIds(h: number, w: number): Tensor {
  const t = new Tensor([h * w, 3]);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) t.data.set([0, i, j], (i * w + j) * 3);
  return t;
}

const arr = (t: Tensor): Arr => ({ dims: [...t.dims], data: t.data });

type NodeSpec = { id: string; type: string; params?: Record<string, string | number | boolean> };

/** LoadConditioning nodes for the given inputs, chained through base; returns the nodes, edges and the last id. */
async function conditioningChain(prefix: string, feeds: Record<string, Tensor>): Promise<{ nodes: NodeSpec[]; edges: string[]; last: string }> {
  const nodes: NodeSpec[] = [];
  const edges: string[] = [];
  let prev: string | undefined;
  for (const [name, t] of Object.entries(feeds)) {
    const id = `${prefix}_${name}`;
    nodes.push({ id, type: 'LoadConditioning', params: { input: name, path: await npy(`${prefix}-${name}.npy`, t) } });
    if (prev) edges.push(`${prev}.conditioning->${id}.base`);
    prev = id;
  }
  return { nodes, edges, last: prev! };
}

interface GraphRun {
  latent: Tensor;
  trajectory: Trajectory;
}

/**
 * Runs model -> Sampler with EmptyLatent, LoadNoise and a LoadConditioning chain (optionally a CFG node
 * with its own negative chain), recording the trajectory.
 */
async function runTwinGraph(opts: {
  folder: string;
  latentDims: number[];
  noise: Tensor;
  cond: Record<string, Tensor>;
  sampler: Record<string, string | number | boolean>;
  cfg?: { scale: number; mode: string; negative: Record<string, Tensor> } & Record<string, string | number | Record<string, Tensor>>;
}): Promise<GraphRun> {
  const [batch, channels, height, width] = opts.latentDims;
  const pos = await conditioningChain('pos', opts.cond);
  const nodes: NodeSpec[] = [
    { id: 'model', type: 'LoadModel', params: { model: opts.folder } },
    { id: 'latent', type: 'EmptyLatent', params: { batch, channels, height, width } },
    { id: 'noise', type: 'LoadNoise', params: { path: await npy('noise.npy', opts.noise) } },
    ...pos.nodes,
    { id: 'sampler', type: 'Sampler', params: { record_trajectory: true, ...opts.sampler } },
  ];
  const edges = [
    'model.model->sampler.model',
    'latent.latent->sampler.latent',
    'noise.noise->sampler.noise',
    ...pos.edges,
    `${pos.last}.conditioning->sampler.conditioning`,
  ];
  if (opts.cfg) {
    const neg = await conditioningChain('neg', opts.cfg.negative);
    const { negative: _neg, ...cfgParams } = opts.cfg;
    nodes.push(...neg.nodes, { id: 'cfg', type: 'CFG', params: cfgParams as Record<string, string | number> });
    edges.push(...neg.edges, `${neg.last}.conditioning->cfg.negative`, 'cfg.guidance->sampler.guidance');
  }
  const r = await engine.execute({ graph: graph(nodes, edges) });
  if (r.summary.status !== 'finished') throw new Error(`run ${r.summary.status}: ${r.summary.error?.message}`);
  const out = r.result!.outputs.get('sampler')!;
  return { latent: out.latent as Tensor, trajectory: out.trajectory as Trajectory };
}

/** A Sampler run outside a graph: for latents no graph node can make yet (FLUX's packed [B, L, 64]). */
async function runSamplerDirect(opts: {
  folder: string;
  latent: Tensor;
  noise: Tensor;
  conditioning: Conditioning;
  guidance?: Guidance;
  sampler: Record<string, string | number | boolean>;
}): Promise<GraphRun> {
  const model: ModelHandle = await service.load(opts.folder);
  const ctx: ExecContext = fakeExecContext({ nodeId: 'sampler' });
  const params = { ...(paramDefaults(Sampler) as Parameters<typeof Sampler.execute>[2]), record_trajectory: true, ...opts.sampler };
  const out = await Sampler.execute(
    ctx,
    { model, latent: opts.latent, noise: opts.noise, sigmas: undefined, conditioning: opts.conditioning, guidance: opts.guidance, mean: undefined },
    params as Parameters<typeof Sampler.execute>[2],
  );
  return { latent: out.latent, trajectory: out.trajectory };
}

/** Conditioning read back from a LoadConditioning chain run through the engine (so the feeds are the node's). */
async function loadConditioning(prefix: string, feeds: Record<string, Tensor>): Promise<Conditioning> {
  const chain = await conditioningChain(prefix, feeds);
  const r = await engine.execute({ graph: graph(chain.nodes, chain.edges), targets: [chain.last] });
  if (r.summary.status !== 'finished') throw new Error(`conditioning run ${r.summary.status}: ${r.summary.error?.message}`);
  return r.result!.outputs.get(chain.last)!.conditioning as Conditioning;
}

/**
 * Each model call's offset per sample, recovered from the trajectory: VP (eps models) eps = (x_ve - D)/s with
 * x_ve = state * sqrt(s^2 + 1) and the model input = state; flow v = (x - D)/t with the model input x.
 * `negated`: the network's output is minus that velocity (reversed-time models).
 * Returns offsets[step][b] and the largest spread of the offset within one sample.
 */
function callOffsets(traj: Trajectory, a: number, space: 'vp' | 'flow', negated = false): { offsets: number[][]; spread: number } {
  const offsets: number[][] = [];
  let spread = 0;
  for (let i = 0; i < traj.denoised.length; i++) {
    const s = traj.sigmas[i];
    const state = traj.states[i];
    const D = traj.denoised[i];
    const B = state.dims[0];
    const per = state.size / B;
    const row: number[] = [];
    for (let b = 0; b < B; b++) {
      let lo = Infinity;
      let hi = -Infinity;
      let sum = 0;
      for (let k = b * per; k < (b + 1) * per; k++) {
        const inp = state.data[k];
        const x = space === 'vp' ? inp * Math.sqrt(s * s + 1) : inp;
        // A reversed-time network (Lumina 2, Z-Image) outputs minus the velocity the solver saw.
        const out = ((x - D.data[k]) / s) * (negated ? -1 : 1);
        const r = out - a * inp;
        lo = Math.min(lo, r);
        hi = Math.max(hi, r);
        sum += r;
      }
      row.push(sum / per);
      spread = Math.max(spread, hi - lo);
    }
    offsets.push(row);
  }
  return { offsets, spread };
}

function expectOffsets(got: number[][], want: number[][], tol: number): void {
  expect(got.length).toBe(want.length);
  got.forEach((row, i) =>
    row.forEach((v, b) => {
      if (Math.abs(v - want[i][b]) > tol) throw new Error(`model call ${i}, sample ${b}: offset ${v}, expected ${want[i][b]} (tolerance ${tol})`);
    }),
  );
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, relTol: number): void {
  expect(got.length).toBe(want.length);
  let scale = 1;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let worst = 0;
  let at = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (d > worst) [worst, at] = [d, i];
  }
  if (worst > relTol * scale) throw new Error(`element ${at}: ${got[at]} vs reference ${want[at]} (|diff| ${worst} > ${relTol} * ${scale})`);
}

type EpsFn = (x: Float64Array, dims: number[], t: number) => Float64Array;

/** The twin as the pipeline calls it (CFG: uncond + scale * (cond - uncond), two calls or one batch, same math). */
function twinFn(spec: TwinSpec, cond: Record<string, Arr>, cfg?: { scale: number; negative: Record<string, Arr> }): EpsFn {
  return (x, dims, t) => {
    const c = twinOutput(spec, { dims, data: x }, { ...cond, timestep: t });
    if (!cfg) return c;
    const u = twinOutput(spec, { dims, data: x }, { ...cfg.negative, timestep: t });
    return c.map((cv, i) => u[i] + cfg.scale * (cv - u[i]));
  };
}

/** diffusers DDIMScheduler (eta 0, set_alpha_to_one false, no clipping) over the given integer timesteps. */
function ddimReference(fn: EpsFn, z: Tensor, timesteps: number[]): Float64Array {
  const ratio = Math.floor(1000 / timesteps.length);
  let x = Float64Array.from(z.data);
  for (const t of timesteps) {
    const eps = fn(x, [...z.dims], t);
    const at = ABAR[t];
    const prev = t - ratio;
    const ap = prev >= 0 ? ABAR[prev] : ABAR[0];
    x = x.map((xv, k) => {
      const x0 = (xv - Math.sqrt(1 - at) * eps[k]) / Math.sqrt(at);
      return Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * eps[k];
    });
  }
  return x;
}

/** diffusers EulerDiscreteScheduler (integer timesteps, final sigma 0) from latents = randn * init_noise_sigma. */
function eulerReference(fn: EpsFn, z: Tensor, timesteps: number[], spacing: 'trailing' | 'leading'): Float64Array {
  const sig = [...timesteps.map((t) => vpSigma(ABAR, t)), 0];
  const init = spacing === 'leading' ? Math.sqrt(sig[0] * sig[0] + 1) : sig[0];
  let x = Float64Array.from(z.data, (v) => v * init);
  timesteps.forEach((t, i) => {
    const c = 1 / Math.sqrt(sig[i] * sig[i] + 1);
    const eps = fn(x.map((v) => v * c), [...z.dims], t);
    x = x.map((v, k) => v + (sig[i + 1] - sig[i]) * eps[k]);
  });
  return x;
}

/** FlowMatchEulerDiscreteScheduler.step over `sigmas` (0 appended), the model called with `modelT(sigma)`. */
function flowEulerReference(fn: EpsFn, z: Tensor, sigmas: number[], modelT: (s: number) => number): Float64Array {
  let x = Float64Array.from(z.data);
  for (let i = 0; i + 1 < sigmas.length; i++) {
    const v = fn(x, [...z.dims], modelT(sigmas[i]));
    x = x.map((xv, k) => xv + (sigmas[i + 1] - sigmas[i]) * v[k]);
  }
  return x;
}

/** Expected offsets: one row per timestep, one column per sample. */
function expectedOffsets(spec: TwinSpec, cond: Record<string, Arr>, ts: number[], batch: number, cfg?: { scale: number; negative: Record<string, Arr> }): number[][] {
  return ts.map((t) =>
    Array.from({ length: batch }, (_, b) => {
      const c = twinOffset(spec, { ...cond, timestep: t }, b);
      if (!cfg) return c;
      const u = twinOffset(spec, { ...cfg.negative, timestep: t }, b);
      return u + cfg.scale * (c - u);
    }),
  );
}

const arrs = (feeds: Record<string, Tensor>): Record<string, Arr> => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, arr(v)]));

// ---------------------------------------------------------------------------------------------

describe('SD 1.5 twin (optimum unet layout: timestep float32 rank 0; PNDMScheduler config)', () => {
  const spec = sd15Twin();
  const dims = [2, 4, 8, 8];
  // SD 1.5's PNDM config has DDIM's grid keys (leading spacing, steps_offset 1): 5 steps -> 801 ... 1.
  const timesteps = [801, 601, 401, 201, 1];

  it('DDIM on the PNDM config: each sample gets its own text embedding and the timestep as a float', async () => {
    const folder = await twinFolder('sd15', spec);
    const cond = { encoder_hidden_states: withMeans([2, 7, 8], [0.3, -0.2]) };
    const z = randomNormal(dims, 11);
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'ddim', steps: 5 } });
    const { offsets, spread } = callOffsets(run.trajectory, spec.a, 'vp');
    expect(spread).toBeLessThan(1e-3);
    expectOffsets(offsets, expectedOffsets(spec, arrs(cond), timesteps, 2), 1e-3);
    expectClose(run.latent.data, ddimReference(twinFn(spec, arrs(cond)), z, timesteps), 1e-4);
  });

  it('CFG with a loaded negative: batched and separate calls give the pipeline result ([uncond; cond] halves in order)', async () => {
    const folder = await twinFolder('sd15-cfg', spec);
    const cond = { encoder_hidden_states: withMeans([2, 7, 8], [0.3, -0.2]) };
    const negative = { encoder_hidden_states: withMeans([2, 7, 8], [0.05, 0.1]) };
    const z = randomNormal(dims, 12);
    const cfgRef = { scale: 7.5, negative: arrs(negative) };
    const ref = ddimReference(twinFn(spec, arrs(cond), cfgRef), z, timesteps);
    for (const mode of ['batched', 'separate']) {
      const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'ddim', steps: 5 }, cfg: { scale: 7.5, mode, negative } });
      expectOffsets(callOffsets(run.trajectory, spec.a, 'vp').offsets, expectedOffsets(spec, arrs(cond), timesteps, 2, cfgRef), 5e-3);
      expectClose(run.latent.data, ref, 1e-4);
    }
  });
});

describe('SD 1.5 twin: one prompt for a latent batch (num_images_per_prompt)', () => {
  const spec = sd15Twin();
  const dims = [2, 4, 8, 8];
  const timesteps = [801, 601, 401, 201, 1];

  it('a one-sample conditioning and negative are repeated for each latent sample (alone, batched and separate CFG)', async () => {
    const folder = await twinFolder('sd15-one-prompt', spec);
    const one = { encoder_hidden_states: withMeans([1, 7, 8], [0.3]) };
    const each = { encoder_hidden_states: withMeans([2, 7, 8], [0.3, 0.3]) };
    const negativeOne = { encoder_hidden_states: withMeans([1, 7, 8], [0.05]) };
    const negativeEach = { encoder_hidden_states: withMeans([2, 7, 8], [0.05, 0.05]) };
    const z = randomNormal(dims, 14);
    const plain = await runTwinGraph({ folder, latentDims: dims, noise: z, cond: one, sampler: { solver: 'ddim', steps: 5 } });
    expectClose(plain.latent.data, ddimReference(twinFn(spec, arrs(each)), z, timesteps), 1e-4);
    const cfgRef = { scale: 7.5, negative: arrs(negativeEach) };
    const ref = ddimReference(twinFn(spec, arrs(each), cfgRef), z, timesteps);
    for (const mode of ['batched', 'separate']) {
      const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond: one, sampler: { solver: 'ddim', steps: 5 }, cfg: { scale: 7.5, mode, negative: negativeOne } });
      expectClose(run.latent.data, ref, 1e-4);
    }
  });

  it('a conditioning of another batch size is refused, naming the input and both sizes', async () => {
    const folder = await twinFolder('sd15-three-prompts', spec);
    const three = { encoder_hidden_states: withMeans([3, 7, 8], [0.3, 0.1, -0.1]) };
    await expect(runTwinGraph({ folder, latentDims: dims, noise: randomNormal(dims, 15), cond: three, sampler: { solver: 'ddim', steps: 2 } })).rejects.toThrow(
      /conditioning input "encoder_hidden_states" holds 3 samples .* and the latent 2/,
    );
    // A one-sample latent too (it went to ORT, whose message named the batch axis, doubled under CFG).
    const single = [1, ...dims.slice(1)];
    const two = { encoder_hidden_states: withMeans([2, 7, 8], [0.3, 0.1]) };
    await expect(
      runTwinGraph({ folder, latentDims: single, noise: randomNormal(single, 15), cond: two, sampler: { solver: 'ddim', steps: 2 }, cfg: { scale: 3, mode: 'batched', negative: two } }),
    ).rejects.toThrow(/conditioning input "encoder_hidden_states" holds 2 samples .* and the latent 1/);
  });
});

describe('SD 1.x twin, legacy diffusers convert-script layout (OnnxStableDiffusionPipeline: timestep float32 [batch])', () => {
  const spec = sd15LegacyTwin();
  const dims = [1, 4, 8, 8];

  it('binds sample/timestep with every dim symbolic and runs batched CFG (timestep fed per batch row)', async () => {
    const folder = await twinFolder('sd15-legacy', spec);
    const cond = { encoder_hidden_states: withMeans([1, 5, 8], [0.4]) };
    const negative = { encoder_hidden_states: withMeans([1, 5, 8], [-0.1]) };
    const z = randomNormal(dims, 13);
    const timesteps = [751, 501, 251, 1];
    const cfgRef = { scale: 5, negative: arrs(negative) };
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'ddim', steps: 4 }, cfg: { scale: 5, mode: 'batched', negative } });
    expectOffsets(callOffsets(run.trajectory, spec.a, 'vp').offsets, expectedOffsets(spec, arrs(cond), timesteps, 1, cfgRef), 5e-3);
    expectClose(run.latent.data, ddimReference(twinFn(spec, arrs(cond), cfgRef), z, timesteps), 1e-4);
  });
});

describe('SD-Turbo twin (EulerDiscreteScheduler, trailing spacing)', () => {
  const spec = sdTurboTwin();
  const dims = [1, 4, 8, 8];
  const cond = { encoder_hidden_states: withMeans([1, 7, 8], [0.25]) };

  it('1 step: the model gets t = 999 and latents = randn * sigma_max (trailing: no sqrt(sigma^2 + 1))', async () => {
    const folder = await twinFolder('sd-turbo-1', spec);
    const z = randomNormal(dims, 21);
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'auto', steps: 1 } });
    const { offsets, spread } = callOffsets(run.trajectory, spec.a, 'vp');
    expect(spread).toBeLessThan(1e-3);
    expectOffsets(offsets, expectedOffsets(spec, arrs(cond), [999], 1), 1e-3);
    expectClose(run.latent.data, eulerReference(twinFn(spec, arrs(cond)), z, [999], 'trailing'), 1e-4);
  });

  it('4 steps: 999, 749, 499, 249 and the Euler result', async () => {
    const folder = await twinFolder('sd-turbo-4', spec);
    const z = randomNormal(dims, 22);
    const ts = [999, 749, 499, 249];
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'auto', steps: 4 } });
    expectOffsets(callOffsets(run.trajectory, spec.a, 'vp').offsets, expectedOffsets(spec, arrs(cond), ts, 1), 1e-3);
    expectClose(run.latent.data, eulerReference(twinFn(spec, arrs(cond)), z, ts, 'trailing'), 1e-4);
  });
});

describe('SDXL twin (unet with text_embeds and time_ids; EulerDiscreteScheduler, leading spacing)', () => {
  const spec = sdxlTwin();
  const dims = [1, 4, 8, 8];
  const ts = [801, 601, 401, 201, 1];
  const cond = {
    encoder_hidden_states: withMeans([1, 7, 8], [0.2]),
    text_embeds: withMeans([1, 6], [0.6]),
    // add_time_ids = original_size + crops_coords_top_left + target_size
    time_ids: Tensor.from([1, 6], [1024, 1024, 0, 0, 1024, 1024]),
  };

  it('three chained LoadConditioning inputs all reach the unet; leading Euler starts at sqrt(sigma_max^2 + 1)', async () => {
    const folder = await twinFolder('sdxl', spec);
    const z = randomNormal(dims, 31);
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'auto', steps: 5 } });
    const { offsets, spread } = callOffsets(run.trajectory, spec.a, 'vp');
    expect(spread).toBeLessThan(1e-3);
    expectOffsets(offsets, expectedOffsets(spec, arrs(cond), ts, 1), 1e-3);
    expectClose(run.latent.data, eulerReference(twinFn(spec, arrs(cond)), z, ts, 'leading'), 1e-4);
  });

  it('CFG: negative text embeddings, same time_ids; batched and separate agree with the pipeline', async () => {
    const folder = await twinFolder('sdxl-cfg', spec);
    const z = randomNormal(dims, 32);
    const negative = {
      encoder_hidden_states: withMeans([1, 7, 8], [0]),
      text_embeds: withMeans([1, 6], [0.1]),
      time_ids: Tensor.from([1, 6], [1024, 1024, 0, 0, 1024, 1024]),
    };
    const cfgRef = { scale: 5, negative: arrs(negative) };
    const ref = eulerReference(twinFn(spec, arrs(cond), cfgRef), z, ts, 'leading');
    for (const mode of ['batched', 'separate']) {
      const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'euler', steps: 5 }, cfg: { scale: 5, mode, negative } });
      expectOffsets(callOffsets(run.trajectory, spec.a, 'vp').offsets, expectedOffsets(spec, arrs(cond), ts, 1, cfgRef), 5e-3);
      expectClose(run.latent.data, ref, 1e-4);
    }
  });

  // diffusers' SDXL pipeline without a negative prompt (force_zeros_for_empty_prompt, true in SDXL's
  // model_index.json) zeroes only the prompt embeddings (encoder_hidden_states, text_embeds) and keeps
  // negative_add_time_ids = add_time_ids; so does the CFG node with no negative connected.
  it('CFG without a negative: zero prompt embeddings but the positive time_ids (force_zeros_for_empty_prompt)', async () => {
    const folder = await twinFolder('sdxl-cfg-zeros', spec);
    const z = randomNormal(dims, 33);
    const pos = await conditioningChain('zpos', cond);
    const nodes: NodeSpec[] = [
      { id: 'model', type: 'LoadModel', params: { model: folder } },
      { id: 'latent', type: 'EmptyLatent', params: { batch: 1, channels: 4, height: 8, width: 8 } },
      { id: 'noise', type: 'LoadNoise', params: { path: await npy('zeros-noise.npy', z) } },
      ...pos.nodes,
      { id: 'cfg', type: 'CFG', params: { scale: 5 } },
      { id: 'sampler', type: 'Sampler', params: { solver: 'auto', steps: 5 } },
    ];
    const edges = [
      'model.model->sampler.model',
      'latent.latent->sampler.latent',
      'noise.noise->sampler.noise',
      ...pos.edges,
      `${pos.last}.conditioning->sampler.conditioning`,
      'cfg.guidance->sampler.guidance',
    ];
    const r = await engine.execute({ graph: graph(nodes, edges) });
    expect(r.summary.status).toBe('finished');
    const negative = { encoder_hidden_states: Tensor.zeros([1, 7, 8]), text_embeds: Tensor.zeros([1, 6]), time_ids: cond.time_ids };
    const ref = eulerReference(twinFn(spec, arrs(cond), { scale: 5, negative: arrs(negative) }), z, ts, 'leading');
    expectClose((r.result!.outputs.get('sampler')!.latent as Tensor).data, ref, 1e-4);
  });

  it('a missing time_ids fails naming the input', async () => {
    const folder = await twinFolder('sdxl-missing', spec);
    const partial = { encoder_hidden_states: cond.encoder_hidden_states, text_embeds: cond.text_embeds };
    await expect(runTwinGraph({ folder, latentDims: dims, noise: randomNormal(dims, 1), cond: partial, sampler: { steps: 2 } })).rejects.toThrow(
      /missing input "time_ids"/,
    );
  });
});

describe('SD3 twin (transformer: hidden_states, timestep [step], encoder_hidden_states, pooled_projections)', () => {
  const spec = sd3Twin();
  const dims = [1, 16, 4, 4];
  const cond = {
    encoder_hidden_states: withMeans([1, 9, 8], [0.35]),
    pooled_projections: withMeans([1, 6], [-0.4]),
  };
  const sigmas = flowMatchStaticSigmas(4, 3);

  it('FlowMatch Euler with shift 3: the transformer gets t = sigma * 1000 and the unscaled latents', async () => {
    const folder = await twinFolder('sd3', spec);
    const z = randomNormal(dims, 41);
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'auto', steps: 4 } });
    const ts = sigmas.slice(0, -1).map((s) => flowModelTimestep(s, 'scheduler'));
    expect(ts[0]).toBe(1000);
    // The table is shifted in __init__ and the grid again in set_timesteps: the last level is shift(shift(1/1000)).
    expect(ts[3]).toBeCloseTo(8.929, 2);
    const { offsets, spread } = callOffsets(run.trajectory, spec.a, 'flow');
    expect(spread).toBeLessThan(1e-3);
    expectOffsets(offsets, expectedOffsets(spec, arrs(cond), ts, 1), 2e-4);
    expectClose(run.latent.data, flowEulerReference(twinFn(spec, arrs(cond)), z, sigmas, (s) => flowModelTimestep(s, 'scheduler')), 1e-4);
  });

  it('CFG batched: the [step] timestep is fed for the doubled batch', async () => {
    const folder = await twinFolder('sd3-cfg', spec);
    const z = randomNormal(dims, 42);
    const negative = { encoder_hidden_states: withMeans([1, 9, 8], [0]), pooled_projections: withMeans([1, 6], [0]) };
    const cfgRef = { scale: 7, negative: arrs(negative) };
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'auto', steps: 4 }, cfg: { scale: 7, mode: 'batched', negative } });
    const ref = flowEulerReference(twinFn(spec, arrs(cond), cfgRef), z, sigmas, (s) => flowModelTimestep(s, 'scheduler'));
    expectClose(run.latent.data, ref, 1e-4);
  });
});

describe('FLUX twin (packed hidden_states [B, L, 64], int64 img_ids / txt_ids without a batch axis, guidance)', () => {
  const h = 4;
  const w = 4; // latent 8x8 in 2x2 patches: L = 16
  const L = h * w;
  const S = 5;
  const latentDims = [1, L, 64];
  const condFeeds = (guidance = 3.5): Record<string, Tensor> => ({
    encoder_hidden_states: withMeans([1, S, 8], [0.15]),
    pooled_projections: withMeans([1, 6], [0.3]),
    // FluxPipeline's text_ids are zeros; ones here so the twin can see they arrived.
    txt_ids: Tensor.full([S, 3], 1),
    img_ids: fluxImageIds(h, w),
    guidance: Tensor.from([1], [guidance]),
  });

  it('FLUX.1-dev: LoadConditioning feeds every input; the transformer gets t/1000 on the mu-shifted pipeline grid', async () => {
    const spec = fluxTwin('dev');
    const folder = await twinFolder('flux-dev', spec);
    const feeds = condFeeds();
    const conditioning = await loadConditioning('flux', feeds);
    const z = randomNormal(latentDims, 51);
    const run = await runSamplerDirect({ folder, latent: Tensor.zeros(latentDims), noise: z, conditioning, sampler: { solver: 'auto', steps: 4 } });
    const { mu, sigmas } = fluxSigmas(4, L, SCHEDULERS.fluxDev);
    expect(mu).toBeCloseTo(0.5 + (16 - 256) * (0.65 / 3840), 12);
    const ts = sigmas.slice(0, -1).map((s) => flowModelTimestep(s, 'fraction'));
    expect(ts[0]).toBe(1);
    const { offsets, spread } = callOffsets(run.trajectory, spec.a, 'flow');
    expect(spread).toBeLessThan(1e-3);
    // An offset off by w_t * (t - t/1000) or a grid without mu would miss by far more than this.
    expectOffsets(offsets, expectedOffsets(spec, arrs(feeds), ts, 1), 1e-4);
    expectClose(run.latent.data, flowEulerReference(twinFn(spec, arrs(feeds)), z, sigmas, (s) => flowModelTimestep(s, 'fraction')), 1e-4);
  });

  it('FLUX.1-dev, two prompts in one batch: per-row embeddings and guidance, img_ids / txt_ids shared', async () => {
    const spec = fluxTwin('dev');
    const folder = await twinFolder('flux-dev-b2', spec);
    const feeds: Record<string, Tensor> = {
      ...condFeeds(),
      encoder_hidden_states: withMeans([2, S, 8], [0.15, -0.3]),
      pooled_projections: withMeans([2, 6], [0.3, 0.1]),
      guidance: Tensor.from([2], [3.5, 3.5]),
    };
    const conditioning = await loadConditioning('fluxb2', feeds);
    const dims2 = [2, L, 64];
    const z = randomNormal(dims2, 56);
    const run = await runSamplerDirect({ folder, latent: Tensor.zeros(dims2), noise: z, conditioning, sampler: { solver: 'flow_euler', steps: 3 } });
    const { sigmas } = fluxSigmas(3, L, SCHEDULERS.fluxDev);
    const ts = sigmas.slice(0, -1).map((s) => flowModelTimestep(s, 'fraction'));
    expectOffsets(callOffsets(run.trajectory, spec.a, 'flow').offsets, expectedOffsets(spec, arrs(feeds), ts, 2), 1e-4);
    expectClose(run.latent.data, flowEulerReference(twinFn(spec, arrs(feeds)), z, sigmas, (s) => flowModelTimestep(s, 'fraction')), 1e-4);
  });

  it('FLUX.1-schnell (no guidance input, static shift 1): timesteps linspace(1, 1/N, N) / 1000 units', async () => {
    const spec = fluxTwin('schnell');
    const folder = await twinFolder('flux-schnell', spec);
    const { guidance: _unused, ...feeds } = condFeeds();
    const conditioning = await loadConditioning('schnell', feeds);
    const z = randomNormal(latentDims, 52);
    const run = await runSamplerDirect({ folder, latent: Tensor.zeros(latentDims), noise: z, conditioning, sampler: { solver: 'auto', steps: 4 } });
    const sigmas = [1, 0.75, 0.5, 0.25, 0];
    const ts = sigmas.slice(0, -1).map((s) => flowModelTimestep(s, 'fraction'));
    expectOffsets(callOffsets(run.trajectory, spec.a, 'flow').offsets, expectedOffsets(spec, arrs(feeds), ts, 1), 1e-4);
    expectClose(run.latent.data, flowEulerReference(twinFn(spec, arrs(feeds)), z, sigmas, (s) => flowModelTimestep(s, 'fraction')), 1e-4);
  });

  // FluxPipeline true_cfg_scale. Batched (auto) stacks only the feeds whose first axis is the batch axis:
  // img_ids [packed_height_width, 3] and txt_ids [sequence_length, 3] are fed once; separate calls feed each side.
  for (const mode of ['separate', 'auto'] as const) {
    it(`true CFG with mode "${mode}" on FLUX: the negative side keeps img_ids / txt_ids`, async () => {
      const spec = fluxTwin('dev');
      const folder = await twinFolder(`flux-cfg-${mode}`, spec);
      const feeds = condFeeds();
      const negFeeds = { ...condFeeds(), encoder_hidden_states: withMeans([1, S, 8], [-0.05]), pooled_projections: withMeans([1, 6], [0]) };
      const conditioning = await loadConditioning(`flux_${mode}_c`, feeds);
      const negative = await loadConditioning(`flux_${mode}_n`, negFeeds);
      const z = randomNormal(latentDims, mode === 'auto' ? 54 : 53);
      const guidance: Guidance = { kind: 'cfg', params: { scale: 4, rescale: 0, mode, negative } };
      const run = await runSamplerDirect({ folder, latent: Tensor.zeros(latentDims), noise: z, conditioning, guidance, sampler: { solver: 'auto', steps: 3 } });
      const { sigmas } = fluxSigmas(3, L, SCHEDULERS.fluxDev);
      const ref = flowEulerReference(twinFn(spec, arrs(feeds), { scale: 4, negative: arrs(negFeeds) }), z, sigmas, (s) => flowModelTimestep(s, 'fraction'));
      expectClose(run.latent.data, ref, 1e-4);
    });
  }

  // FLUX from a graph: LoadLatent keeps a packed [B, L, 64] array as stored.
  it('end to end from a graph: LoadLatent / LoadNoise / LoadConditioning chain -> Sampler on packed latents', async () => {
    const spec = fluxTwin('dev');
    const folder = await twinFolder('flux-graph', spec);
    const feeds = condFeeds();
    const z = randomNormal(latentDims, 55);
    const chain = await conditioningChain('fg', feeds);
    const nodes: NodeSpec[] = [
      { id: 'model', type: 'LoadModel', params: { model: folder } },
      { id: 'latent', type: 'LoadLatent', params: { path: await npy('flux-latent.npy', Tensor.zeros(latentDims)) } },
      { id: 'noise', type: 'LoadNoise', params: { path: await npy('flux-noise.npy', z) } },
      ...chain.nodes,
      { id: 'sampler', type: 'Sampler', params: { solver: 'auto', steps: 4 } },
    ];
    const edges = ['model.model->sampler.model', 'latent.latent->sampler.latent', 'noise.noise->sampler.noise', ...chain.edges, `${chain.last}.conditioning->sampler.conditioning`];
    const r = await engine.execute({ graph: graph(nodes, edges) });
    expect(r.summary.error?.message).toBeUndefined();
    const latent = r.result!.outputs.get('sampler')!.latent as Tensor;
    expect(latent.dims).toEqual(latentDims);
    const { sigmas } = fluxSigmas(4, L, SCHEDULERS.fluxDev);
    expectClose(latent.data, flowEulerReference(twinFn(spec, arrs(feeds)), z, sigmas, (s) => flowModelTimestep(s, 'fraction')), 1e-4);
  });

  // The optimum FLUX export declares img_ids / txt_ids int64: a dump in the model's own dtype ('<i8') loads.
  it('LoadConditioning reads an int64 .npy for an int64 input (img_ids)', async () => {
    const ids = fluxImageIds(h, w);
    const file = path.join(dir, 'img_ids_i8.npy');
    await fs.writeFile(file, npyInt64([...ids.dims], Array.from(ids.data)));
    const r = await engine.execute({
      graph: graph([{ id: 'c', type: 'LoadConditioning', params: { input: 'img_ids', path: file } }], []),
      targets: ['c'],
    });
    expect(r.summary.error?.message).toBeUndefined();
    const got = (r.result!.outputs.get('c')!.conditioning as Conditioning).feeds.img_ids;
    expect([...got.data]).toEqual([...ids.data]);
  });
});

describe('Sana Sprint twin (SanaSprintPipeline + SCMScheduler: TrigFlow time, guidance, encoder_attention_mask)', () => {
  const spec = sanaSprintTwin();
  const dims = [1, 32, 4, 4];
  const S = 5;
  const cond = {
    encoder_hidden_states: withMeans([1, S, 8], [0.2]),
    encoder_attention_mask: Tensor.full([1, S], 1),
    // SanaSprintPipeline feeds guidance_scale * guidance_embeds_scale: 4.5 * 0.1.
    guidance: Tensor.from([1], [0.45]),
  };

  /**
   * SanaSprintPipeline's loop with SCMScheduler.step, in TrigFlow variables and float64: latents = z sigma_data;
   * the transformer gets the flow sample (latents / sigma_data) sqrt(tau^2 + (1 - tau)^2) at tau =
   * sin s / (cos s + sin s); its velocity becomes the TrigFlow output F; x0 = cos s latents - sin s F; the next
   * latents cos t x0 + sin t sigma_data z_k; the result is the last x0 / sigma_data.
   */
  function sprintReference(fn: EpsFn, noise: Tensor, trig: number[]): { x: Float64Array; taus: number[] } {
    const sd = 0.5;
    const per = noise.size / noise.dims[0];
    const z = (k: number) => noise.data.subarray(k * per, (k + 1) * per);
    const d = noise.dims.slice(1);
    let latents = Float64Array.from(z(0), (v) => v * sd);
    let x0 = latents;
    const taus: number[] = [];
    for (let i = 0; i + 1 < trig.length; i++) {
      const [s, t] = [trig[i], trig[i + 1]];
      const tau = Math.sin(s) / (Math.cos(s) + Math.sin(s));
      taus.push(tau);
      const r = Math.sqrt(tau * tau + (1 - tau) * (1 - tau));
      const input = latents.map((v) => (v / sd) * r);
      const v = fn(input, d, tau);
      x0 = latents.map((lv, k) => Math.cos(s) * lv - Math.sin(s) * (((1 - 2 * tau) * input[k] + (1 - 2 * tau + 2 * tau * tau) * v[k]) / r) * sd);
      const zk = z(i + 1);
      latents = x0.map((xv, k) => Math.cos(t) * xv + Math.sin(t) * zk[k] * sd);
    }
    return { x: x0.map((v) => v / sd), taus };
  }

  for (const steps of [1, 2, 4]) {
    it(`${steps} step${steps > 1 ? 's' : ''} with the model's default solver (scm): the transformer gets the flow time; the result is diffusers' loop`, async () => {
      const folder = await twinFolder(`sana-sprint-${steps}`, spec);
      const noise = randomNormal([steps + 1, ...dims], 60 + steps);
      const run = await runTwinGraph({ folder, latentDims: dims, noise, cond, sampler: { solver: 'auto', steps } });
      // set_timesteps: [1.5708, 1.3, 0] at 2 steps, else linspace(1.5708, 0, N + 1) (float32).
      const trig = steps === 2 ? [1.5708, 1.3, 0] : Array.from({ length: steps + 1 }, (_, i) => 1.5708 * (1 - i / steps));
      const ref = sprintReference(twinFn(spec, arrs(cond)), noise, trig.map(Math.fround));
      expect(ref.taus[0]).toBeCloseTo(1.0000037, 6);
      const { offsets, spread } = callOffsets(run.trajectory, spec.a, 'flow');
      expect(spread).toBeLessThan(1e-3);
      // The first level is walked as tau = 1 while the model gets 1.0000037: the offset carries the latter.
      expectOffsets(offsets, expectedOffsets(spec, arrs(cond), ref.taus, 1), 1e-5);
      expectClose(run.latent.data, ref.x, 1e-4);
    });
  }

  it('any flow solver runs the model on its flow-matching grid (flow_euler: linspace levels, flow time fed as is)', async () => {
    const folder = await twinFolder('sana-sprint-euler', spec);
    const z = randomNormal(dims, 70);
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'flow_euler', steps: 3 } });
    const sigmas = [...flowMatchStaticSigmas(3, 1)];
    const ref = flowEulerReference(twinFn(spec, arrs(cond)), z, sigmas, (s) => s);
    expectClose(run.latent.data, ref, 1e-4);
  });
});

/**
 * FLUX-kind pipeline sigmas with a static shift: linspace(1, 1/N, N) as numpy (float64, then float32) or torch
 * (float32) makes it, shifted in float32 as set_timesteps does, then 0.
 */
function pipelineStaticSigmas(steps: number, shift: number, list: 'numpy' | 'torch'): number[] {
  const f = Math.fround;
  const given = list === 'torch' ? linspaceF32(1, 1 / steps, steps) : Array.from({ length: steps }, (_, i) => f(1 + ((1 / steps - 1) * i) / Math.max(steps - 1, 1)));
  return [...given.map((s) => f(f(shift * s) / f(1 + f((shift - 1) * s)))), 0];
}

/**
 * Lumina2Pipeline / ZImagePipeline around FlowMatch Euler: the transformer gets the data fraction 1 - sigma and
 * its output is negated before the step; with CFG the pipelines' own rule (Lumina 2: uncond + s (cond - uncond),
 * then each last-axis row scaled to the conditional row's norm; Z-Image: pos + s (pos - neg), clamped to
 * k ||pos||, and no guidance once 1 - sigma exceeds the truncation).
 */
function reversedFlowReference(
  run: (x: Float64Array, dims: number[], t: number, side: 'cond' | 'uncond') => Float64Array,
  z: Tensor,
  sigmas: number[],
  cfg?: { rule: 'lumina2' | 'zimage'; scale: number; normLimit?: number; truncate?: number },
): Float64Array {
  let x = Float64Array.from(z.data);
  const dims = [...z.dims];
  const w = dims[dims.length - 1];
  for (let i = 0; i + 1 < sigmas.length; i++) {
    const t = 1 - sigmas[i];
    const c = run(x, dims, t, 'cond');
    let pred = c;
    if (cfg && !(cfg.truncate !== undefined && t > cfg.truncate)) {
      const u = run(x, dims, t, 'uncond');
      if (cfg.rule === 'lumina2') {
        const g = c.map((cv, k) => u[k] + cfg.scale * (cv - u[k]));
        pred = g.map((gv, k) => {
          const r = k - (k % w);
          const nc = Math.hypot(...Array.from(c.subarray(r, r + w)));
          const ng = Math.hypot(...Array.from(g.subarray(r, r + w)));
          return (gv * nc) / ng;
        });
      } else {
        const g = c.map((cv, k) => cv + cfg.scale * (cv - u[k]));
        const max = (cfg.normLimit ?? 1) * Math.hypot(...Array.from(c));
        const ng = Math.hypot(...Array.from(g));
        pred = ng > max ? g.map((v) => (v * max) / ng) : g;
      }
    }
    x = x.map((xv, k) => xv + (sigmas[i + 1] - sigmas[i]) * -pred[k]);
  }
  return x;
}

describe('Lumina 2 twin (Lumina2Pipeline: data-fraction timestep, negated output, np.linspace sigmas, CFG renormalization)', () => {
  const spec = lumina2Twin();
  const dims = [1, 16, 4, 4];
  const S = 5;
  const cond = { encoder_hidden_states: withMeans([1, S, 8], [0.3]), encoder_attention_mask: Tensor.full([1, S], 1) };
  const negative = { encoder_hidden_states: withMeans([1, S, 8], [-0.2]), encoder_attention_mask: Tensor.full([1, S], 1) };
  const sides = (feeds: Record<string, Arr>, neg: Record<string, Arr>) => (x: Float64Array, d: number[], t: number, side: 'cond' | 'uncond') =>
    twinOutput(spec, { dims: d, data: x }, { ...(side === 'cond' ? feeds : neg), timestep: t });

  it('auto: FlowMatch Euler on the pipeline sigmas (shift 6), the transformer fed 1 - sigma, its output negated', async () => {
    const folder = await twinFolder('lumina2', spec);
    const z = randomNormal(dims, 80);
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'auto', steps: 6 } });
    const sigmas = pipelineStaticSigmas(6, 6, 'numpy');
    const { offsets, spread } = callOffsets(run.trajectory, spec.a, 'flow', true);
    expect(spread).toBeLessThan(1e-3);
    // The data fraction reaches the network: 0 on the first call (pure noise), not 1.
    expectOffsets(offsets, expectedOffsets(spec, arrs(cond), sigmas.slice(0, -1).map((s) => 1 - s), 1), 1e-4);
    expectClose(run.latent.data, reversedFlowReference(sides(arrs(cond), arrs(negative)), z, sigmas), 1e-4);
  });

  it('CFG renormalizes rows by default on Lumina 2, as Lumina2Pipeline (two calls per step, as the pipeline makes them); off turns it off', async () => {
    const folder = await twinFolder('lumina2-cfg', spec);
    const z = randomNormal(dims, 81);
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'auto', steps: 5 }, cfg: { scale: 4, mode: 'separate', negative } });
    const ref = reversedFlowReference(sides(arrs(cond), arrs(negative)), z, pipelineStaticSigmas(5, 6, 'numpy'), { rule: 'lumina2', scale: 4 });
    expectClose(run.latent.data, ref, 1e-4);
    const plain = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'auto', steps: 5 }, cfg: { scale: 4, mode: 'separate', negative, normalize: 'off' } });
    expect(relL2(plain.latent.data, ref)).toBeGreaterThan(1e-3);
  });
});

describe('Z-Image twin (ZImagePipeline: x / t / cap_feats, torch.linspace sigmas, CFG truncation and norm clamp)', () => {
  const spec = zImageTwin();
  const dims = [1, 16, 4, 4];
  const cond = { cap_feats: withMeans([1, 7, 8], [0.25]) };
  const negative = { cap_feats: withMeans([1, 7, 8], [-0.5]) };
  const sides = (x: Float64Array, d: number[], t: number, side: 'cond' | 'uncond') =>
    twinOutput(spec, { dims: d, data: x }, { ...arrs(side === 'cond' ? cond : negative), t });

  it('Z-Image-Turbo (9 steps, no CFG): shift 3 on torch.linspace(1, 1/N, N), the network fed (1000 - t)/1000', async () => {
    const folder = await twinFolder('zimage', spec);
    const z = randomNormal(dims, 90);
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'auto', steps: 9 } });
    const sigmas = pipelineStaticSigmas(9, 3, 'torch');
    const { offsets } = callOffsets(run.trajectory, spec.a, 'flow', true);
    expectOffsets(offsets, sigmas.slice(0, -1).map((s) => [twinOffset(spec, { ...arrs(cond), t: 1 - s }, 0)]), 1e-4);
    expectClose(run.latent.data, reversedFlowReference(sides, z, sigmas), 1e-4);
  });

  it("CFG as the pipeline: guidance_scale s is scale s + 1, cfg_normalization clamps, cfg_truncation ends guidance", async () => {
    const folder = await twinFolder('zimage-cfg', spec);
    const z = randomNormal(dims, 91);
    const run = await runTwinGraph({
      folder,
      latentDims: dims,
      noise: z,
      cond,
      sampler: { solver: 'auto', steps: 8 },
      cfg: { scale: 4, mode: 'batched', negative, normalize: 'clamp', norm_limit: 1.1, truncate: 0.6 },
    });
    const ref = reversedFlowReference(sides, z, pipelineStaticSigmas(8, 3, 'torch'), { rule: 'zimage', scale: 3, normLimit: 1.1, truncate: 0.6 });
    expectClose(run.latent.data, ref, 1e-4);
    // Without the truncation every step is guided, without the clamp the norms grow: other results.
    const always = reversedFlowReference(sides, z, pipelineStaticSigmas(8, 3, 'torch'), { rule: 'zimage', scale: 3, normLimit: 1.1 });
    expect(relL2(always, ref)).toBeGreaterThan(1e-3);
    const unclamped = reversedFlowReference(sides, z, pipelineStaticSigmas(8, 3, 'torch'), { rule: 'zimage', scale: 3, normLimit: 1e9, truncate: 0.6 });
    expect(relL2(unclamped, ref)).toBeGreaterThan(1e-3);
  });
});

/** A little-endian int64 .npy (format 1.0), as np.save writes one. */
function npyInt64(dims: number[], values: number[]): Uint8Array {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<i8', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + values.length * 8);
  out.set([0x93, ...Array.from('NUMPY', (c) => c.charCodeAt(0)), 1, 0]);
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  values.forEach((v, i) => view.setBigInt64(10 + header.length + 8 * i, BigInt(v), true));
  return out;
}

describe('HunyuanImage 2.1 twins (HunyuanImagePipeline: linspace(1, 0, N + 1)[:-1], t = sigma * 1000; timestep_r on the distilled model)', () => {
  const dims = [1, 64, 2, 2];
  const S = 5;
  const cond = {
    encoder_hidden_states: withMeans([1, S, 8], [0.3]),
    encoder_attention_mask: Tensor.full([1, S], 1),
    encoder_hidden_states_2: withMeans([1, S, 6], [-0.2]),
    encoder_attention_mask_2: Tensor.full([1, S], 1),
  };
  // numpy's linspace(1, 0, N + 1)[:-1] = 1 - k/N, cast to float32, shifted by 5 in float32.
  const hunyuanSigmas = (steps: number) => {
    const f = Math.fround;
    return [...Array.from({ length: steps }, (_, k) => f(1 + k * (-1 / steps))).map((s) => f(f(5 * s) / f(1 + f(4 * s)))), 0];
  };
  const modelT = (s: number) => Math.fround(s * 1000);

  it('base model: auto walks the pipeline sigmas with FlowMatch Euler, the transformer fed sigma * 1000', async () => {
    const spec = hunyuanImageTwin('base');
    const folder = await twinFolder('hunyuan-image', spec);
    const z = randomNormal(dims, 95);
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond, sampler: { solver: 'auto', steps: 6 } });
    const sigmas = hunyuanSigmas(6);
    // The first level is 1 and the list has no 1/N floor (FLUX's linspace(1, 1/N, N) would end at shift(1/6)).
    expect(sigmas[0]).toBe(1);
    expect(sigmas[5]).toBeCloseTo((5 / 6) / (1 + 4 / 6), 6);
    const { offsets, spread } = callOffsets(run.trajectory, spec.a, 'flow');
    expect(spread).toBeLessThan(1e-3);
    expectOffsets(offsets, expectedOffsets(spec, arrs(cond), sigmas.slice(0, -1).map(modelT), 1), 2e-4);
    expectClose(run.latent.data, flowEulerReference(twinFn(spec, arrs(cond)), z, sigmas, modelT), 1e-4);
  });

  it('distilled (mean-flow) model: timestep_r is the next timestep, 0 on the last step, and its guidance input is fed as given', async () => {
    const spec = hunyuanImageTwin('distilled');
    const folder = await twinFolder('hunyuan-image-distilled', spec);
    const z = randomNormal(dims, 96);
    const feeds = { ...cond, guidance: Tensor.full([1], 3250) };
    const run = await runTwinGraph({ folder, latentDims: dims, noise: z, cond: feeds, sampler: { solver: 'auto', steps: 4 } });
    const sigmas = hunyuanSigmas(4);
    const ts = sigmas.map(modelT);
    const { offsets } = callOffsets(run.trajectory, spec.a, 'flow');
    expectOffsets(offsets, ts.slice(0, -1).map((t, i) => [twinOffset(spec, { ...arrs(feeds), timestep: t, timestep_r: ts[i + 1] }, 0)]), 2e-4);
    // The reference: each Euler step sees the interval end it is taken to.
    let x = Float64Array.from(z.data);
    for (let i = 0; i < 4; i++) {
      const v = twinOutput(spec, { dims, data: x }, { ...arrs(feeds), timestep: ts[i], timestep_r: ts[i + 1] });
      x = x.map((xv, k) => xv + (sigmas[i + 1] - sigmas[i]) * v[k]);
    }
    expectClose(run.latent.data, x, 1e-4);
    // r = t instead (an instantaneous velocity) would be another run: the input matters here.
    const same = Float64Array.from(z.data);
    let y = same;
    for (let i = 0; i < 4; i++) {
      const v = twinOutput(spec, { dims, data: y }, { ...arrs(feeds), timestep: ts[i], timestep_r: ts[i] });
      y = y.map((yv, k) => yv + (sigmas[i + 1] - sigmas[i]) * v[k]);
    }
    expect(relL2(run.latent.data, y)).toBeGreaterThan(1e-3);
  });

  it('timestep_r comes from the sampler: a conditioning file for it is refused, naming the input', async () => {
    const spec = hunyuanImageTwin('distilled');
    const folder = await twinFolder('hunyuan-image-distilled-bad', spec);
    const feeds = { ...cond, guidance: Tensor.full([1], 3250), timestep_r: Tensor.full([1], 0) };
    await expect(runTwinGraph({ folder, latentDims: dims, noise: randomNormal(dims, 97), cond: feeds, sampler: { solver: 'auto', steps: 2 } })).rejects.toThrow(/timestep_r.*the sampler feeds/);
  });

  it('the refiner pipeline is refused with its reason', async () => {
    const spec = hunyuanImageTwin('base');
    const folder = await twinFolder('hunyuan-image-refiner', { ...spec, modelIndex: { ...spec.modelIndex, _class_name: 'HunyuanImageRefinerPipeline' } });
    await expect(runTwinGraph({ folder, latentDims: dims, noise: randomNormal(dims, 98), cond, sampler: { solver: 'auto', steps: 2 } })).rejects.toThrow(/HunyuanImageRefinerPipeline is not supported: it feeds the transformer the latent joined/);
  });
});

describe('DiT twin (DiTPipeline: int64 class_labels from a Class Label node, its null class under CFG, learn_sigma output)', () => {
  const spec = ditTwin();
  const dims = [2, 4, 8, 8];
  // DiT's folder: DDIMScheduler, leading spacing, steps_offset 0: 10 steps -> 900, 800, ..., 0.
  const timesteps = Array.from({ length: 10 }, (_, i) => 900 - 100 * i);

  async function run(folder: string, labels: NodeSpec, cfg?: Record<string, string | number>, labelsFromModel = false): Promise<GraphRun> {
    const nodes: NodeSpec[] = [
      { id: 'model', type: 'LoadModel', params: { model: folder } },
      { id: 'latent', type: 'EmptyLatent', params: { batch: 2, channels: 4, height: 8, width: 8 } },
      { id: 'noise', type: 'LoadNoise', params: { path: await npy('dit-noise.npy', randomNormal(dims, 120)) } },
      { ...labels, id: 'labels' },
      { id: 'sampler', type: 'Sampler', params: { record_trajectory: true, solver: 'ddim', steps: 10 } },
    ];
    const edges = ['model.model->sampler.model', 'latent.latent->sampler.latent', 'noise.noise->sampler.noise', 'labels.conditioning->sampler.conditioning'];
    if (labelsFromModel) edges.push('model.model->labels.model');
    if (cfg) {
      nodes.push({ id: 'cfg', type: 'CFG', params: cfg });
      edges.push('cfg.guidance->sampler.guidance');
    }
    const r = await engine.execute({ graph: graph(nodes, edges) });
    if (r.summary.status !== 'finished') throw new Error(`run ${r.summary.status}: ${r.summary.error?.message}`);
    const out = r.result!.outputs.get('sampler')!;
    return { latent: out.latent as Tensor, trajectory: out.trajectory as Trajectory };
  }
  const offsetsFor = (labels: number[], cfg?: number) =>
    timesteps.map((t) =>
      labels.map((c) => {
        const cond = twinOffset(spec, { timestep: t, class_labels: c }, 0);
        if (cfg === undefined) return cond;
        const uncond = twinOffset(spec, { timestep: t, class_labels: 1000 }, 0);
        return uncond + cfg * (cond - uncond);
      }),
    );

  it('each sample gets its class; under CFG the unconditional side is class 1000; Class Label equals a loaded int64 file', async () => {
    const folder = await twinFolder('dit', spec);
    const plain = await run(folder, { id: '', type: 'ClassLabel', params: { labels: '207, 360' } });
    const { offsets, spread } = callOffsets(plain.trajectory, spec.a, 'vp');
    // Offsets read back from float32 states at DiT's high noise levels (sigma near 60 at t = 900): a few 1e-3.
    expect(spread).toBeLessThan(5e-3);
    expectOffsets(offsets, offsetsFor([207, 360]), 5e-3);
    const guided = await run(folder, { id: '', type: 'ClassLabel', params: { labels: '207, 360' } }, { scale: 4 });
    expectOffsets(callOffsets(guided.trajectory, spec.a, 'vp').offsets, offsetsFor([207, 360], 4), 5e-3);
    const loaded = await run(folder, { id: '', type: 'LoadConditioning', params: { input: 'class_labels', path: await npy('dit-labels.npy', new Tensor([2], Float32Array.of(207, 360))) } });
    expect([...loaded.latent.data]).toEqual([...plain.latent.data]);
    // One label for a batch of two is repeated (both samples class 207), as one prompt is; three are refused.
    const one = await run(folder, { id: '', type: 'ClassLabel', params: { labels: '207' } });
    expectOffsets(callOffsets(one.trajectory, spec.a, 'vp').offsets, offsetsFor([207, 207]), 5e-3);
    await expect(run(folder, { id: '', type: 'ClassLabel', params: { labels: '207, 360, 1' } })).rejects.toThrow(/class_labels" holds 3 samples/);
  });

  it("Class Label takes class names from the folder's model_index.json id2label, as DiTPipeline.get_label_ids does", async () => {
    const folder = await twinFolder('dit-names', { ...spec, modelIndex: { ...spec.modelIndex, id2label: { '207': 'golden retriever', '360': 'otter', '361': 'skunk, polecat, wood pussy' } } });
    const named = await run(folder, { id: '', type: 'ClassLabel', params: { labels: 'golden retriever, polecat' } }, undefined, true);
    expectOffsets(callOffsets(named.trajectory, spec.a, 'vp').offsets, offsetsFor([207, 361]), 5e-3);
    await expect(run(folder, { id: '', type: 'ClassLabel', params: { labels: 'golden retriever, weasel' } }, undefined, true)).rejects.toThrow(/label 2 \("weasel"\) is not a class name in the model's id2label/);
  });
});
