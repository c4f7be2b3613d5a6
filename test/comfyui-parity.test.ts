/**
 * Our ComfyUI grids and runs against ComfyUI's own code. test/fixtures/comfyui-parity/refs.{json,bin} hold
 * what scripts/comfyui-parity/check.py got from ComfyUI (the commit named in refs.json) for the cases in
 * scripts/comfyui-parity/cases.ts:
 *  - grids: KSampler(...).sigmas for a scheduler, steps, denoise and the dropped second-to-last level, on VP,
 *    SD3-style and FLUX-style tables, and the model timestep ComfyUI feeds at each step's level;
 *  - runs: whole KSampler runs on the embedded analytic models from ComfyUI's seed (prepare_noise, and its
 *    CPU noise sampler for ancestral steps), compared with our Schedule (ComfyUI) -> Sampler graph.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../electron/engine/engine.ts';
import { readGraphFile } from '../electron/engine/graph/io.ts';
import { ensureEmbeddedModel } from '../electron/engine/models/embedded.ts';
import { EXAMPLES_DIR } from '../electron/engine/paths.ts';
import { COMFY_SAMPLER_NAMES, COMFY_SAMPLERS, comfyModelSampling, comfySigmas, kSamplerLevels } from '../nodes/sampling/comfy-schedules.ts';
import { SOLVERS } from '../nodes/sampling/solver-registry.ts';
import { ComfyCustomSchedule } from '../nodes/comfy-custom-schedule.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import type { ModelHandle } from '../nodes/core/values.ts';
import { curveCases, curveNodeParams, gridCases, runCases } from '../scripts/comfyui-parity/cases.ts';
import { prepareComfyDir, runEntry, type TwinConditioning } from '../scripts/comfyui-parity/setup.ts';
import { createTestEngine, tempDir, testCacheDir } from './helpers/engine.ts';
import { relL2 } from './sampling-fake-model.ts';

interface GridRef {
  id: string;
  sigmas: number[];
  timesteps: number[];
}
interface RunRef {
  id: string;
  shape: number[];
  offset: number;
  calls: number;
  sigmas: number[];
  /** Ours times this is ComfyUI's result, where a run ends above 0 (check.py comfy_units_scale). */
  ours_scale?: number;
}

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/comfyui-parity');
const meta = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'refs.json'), 'utf8')) as { comfyui_commit: string; grids: GridRef[]; runs: RunRef[] };
const bytes = fs.readFileSync(path.join(FIXTURE, 'refs.bin'));
const refData = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
const gridRefs = new Map(meta.grids.map((g) => [g.id, g]));
const runRefs = new Map(meta.runs.map((r) => [r.id, r]));

/** Levels agree to float32 rounding of ComfyUI's float32 arithmetic (interpolations, powers, tan). */
const LEVEL_RTOL = 2e-6;
/**
 * Runs agree to about 1e-6 (1e-5 with zero-SNR or linear_quadratic levels); a midpoint fed the interpolated
 * timestep instead of ComfyUI's nearest training step moves a dpm_2 run by 2.6e-4. ComfyUI's UniPC loses
 * digits computing lambda in float32 at small sigma (scripts/comfyui-parity/README.md): 4.4e-5 at most.
 */
const RUN_TOL = 3e-5;
const UNIPC_TOL = 1e-4;
/**
 * dpm_adaptive sizes its steps from the gap between two results that agree to a few float32 ulps on its
 * first, tiny steps: that gap is rounding noise (13% apart between ComfyUI and us on the first step here, as
 * between two torch builds), so the step sizes, and the result, drift by up to about 1e-3.
 */
const ADAPTIVE_TOL = 2e-3;

const grids = gridCases();
const runs = runCases();

describe(`ComfyUI grids (${meta.comfyui_commit.slice(0, 7)}): KSampler levels and model timesteps`, () => {
  it('every case has a reference and every reference a case', () => {
    expect(grids.filter((c) => !gridRefs.has(c.id)).map((c) => c.id)).toEqual([]);
    expect(runs.filter((c) => !runRefs.has(c.id)).map((c) => c.id)).toEqual([]);
    expect(meta.grids.length).toBe(grids.length);
    expect(meta.runs.length).toBe(runs.length);
  });

  it.each(grids.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    const ref = gridRefs.get(c.id)!;
    const ms = comfyModelSampling(c.config, c.space, c.tokens);
    const levels = kSamplerLevels(ms, c.scheduler, c.steps, { denoise: c.denoise, discardPenultimate: c.discardPenultimate });
    expect(levels.length).toBe(ref.sigmas.length);
    levels.forEach((s, k) => {
      const want = ref.sigmas[k];
      expect(Math.abs(s - want), `level ${k}: ${s} vs ${want}`).toBeLessThanOrEqual(LEVEL_RTOL * Math.abs(want) + 1e-12);
    });
    if (levels.length < 2) return;
    // The timestep each step's model call gets, in scheduler units (VP: the nearest training step, exactly).
    const sig = comfySigmas(ms, levels, 'scheduler', c.id);
    if (c.space === 'vp') expect(sig.timesteps).toEqual(ref.timesteps);
    else sig.timesteps.forEach((t, k) => expect(Math.abs(t - ref.timesteps[k])).toBeLessThan(1e-6 * 1000));
  });
});

/** timesteps: null for flow cases (levels only). */
const curveMeta = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'curves.json'), 'utf8')) as { comfyui_files: Record<string, string>; curves: (Omit<GridRef, 'timesteps'> & { timesteps: number[] | null })[] };
const curveRefs = new Map(curveMeta.curves.map((g) => [g.id, g]));
const curves = curveCases();

/** A curve case's node inputs (ComfyUI's names) as the Schedule (ComfyUI custom) node's params. */
const curveParams = (c: (typeof curves)[number]) => curveNodeParams(c.curve, c.params);

describe(`ComfyUI scheduler nodes (${Object.keys(curveMeta.comfyui_files).length} source files): Schedule (ComfyUI custom) levels and model timesteps`, () => {
  const defaults = Object.fromEntries(Object.entries(ComfyCustomSchedule.params).map(([k, p]) => [k, p.default]));

  it('every case has a reference and every reference a case', () => {
    expect(curves.filter((c) => !curveRefs.has(c.id)).map((c) => c.id)).toEqual([]);
    expect(curveMeta.curves.length).toBe(curves.length);
  });

  it.each(curves.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const ref = curveRefs.get(c.id)!;
    const modelIndex = { _class_name: c.space === 'vp' ? 'StableDiffusionPipeline' : 'StableDiffusion3Pipeline' };
    const model: ModelHandle = { key: 'm', name: 'm', folder: '/m', scheduler: c.config, denoiserKind: 'unet', denoiser: undefined as never, modelIndex };
    const params = { ...defaults, ...curveParams(c) } as Parameters<typeof ComfyCustomSchedule.execute>[2];
    const sig = (await ComfyCustomSchedule.execute({} as ExecContext, { model, latent: undefined }, params)).sigmas;
    expect(sig.sigmas.length).toBe(ref.sigmas.length);
    sig.sigmas.forEach((s, k) => {
      const want = ref.sigmas[k];
      expect(Math.abs(s - want), `level ${k}: ${s} vs ${want}`).toBeLessThanOrEqual(LEVEL_RTOL * Math.abs(want) + 1e-12);
    });
    // The timestep each step's model call gets on VP models: the nearest training step, exactly.
    if (c.space === 'vp') expect(sig.timesteps).toEqual(ref.timesteps);
    else expect(ref.timesteps).toBeNull();
  });
});

/**
 * comfy/samplers.py SAMPLER_NAMES at the commit most references come from (KSAMPLER_NAMES + ddim, uni_pc, uni_pc_bh2),
 * plus exp_heun_2_x0, exp_heun_2_x0_sde and cfgpp_ud10_ab, which later ComfyUIs added (their references come from those).
 */
const COMFY_SAMPLER_LIST = [
  'euler', 'euler_cfg_pp', 'euler_ancestral', 'euler_ancestral_cfg_pp', 'heun', 'heunpp2', 'dpm_2', 'dpm_2_ancestral', 'lms', 'dpm_fast',
  'dpm_adaptive', 'dpmpp_2s_ancestral', 'dpmpp_2s_ancestral_cfg_pp', 'dpmpp_sde', 'dpmpp_sde_gpu', 'dpmpp_2m', 'dpmpp_2m_cfg_pp',
  'dpmpp_2m_sde', 'dpmpp_2m_sde_gpu', 'dpmpp_2m_sde_heun', 'dpmpp_2m_sde_heun_gpu', 'dpmpp_3m_sde', 'dpmpp_3m_sde_gpu', 'ddpm', 'lcm',
  'ipndm', 'ipndm_v', 'deis', 'res_multistep', 'res_multistep_cfg_pp', 'res_multistep_ancestral', 'res_multistep_ancestral_cfg_pp',
  'gradient_estimation', 'gradient_estimation_cfg_pp', 'cfgpp_ud10_ab', 'er_sde', 'seeds_2', 'seeds_3', 'exp_heun_2_x0', 'exp_heun_2_x0_sde', 'sa_solver', 'sa_solver_pece', 'ddim', 'uni_pc',
  'uni_pc_bh2',
];

describe('ComfyUI samplers', () => {
  it('every ComfyUI sampler maps to a registered solver and has parity runs', () => {
    expect([...COMFY_SAMPLER_NAMES].sort()).toEqual([...COMFY_SAMPLER_LIST].sort());
    for (const name of COMFY_SAMPLER_LIST) expect(SOLVERS[COMFY_SAMPLERS[name].solver], name).toBeDefined();
    const run = new Set(runs.map((c) => c.sampler));
    expect(COMFY_SAMPLER_LIST.filter((n) => !run.has(n))).toEqual([]);
  });
});

describe('ComfyUI runs: Schedule (ComfyUI) -> Sampler (noise_generator comfyui) against KSampler', () => {
  let dir: string;
  let engine: Engine;
  let twins: TwinConditioning;
  beforeAll(async () => {
    dir = tempDir('fs-comfy-parity-');
    twins = await prepareComfyDir(dir, (name) => ensureEmbeddedModel(name, testCacheDir()));
    engine = createTestEngine({ readRoots: [path.join(dir, 'graphs'), dir] });
  });

  it.each(runs.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const ref = runRefs.get(c.id)!;
    const { graphFile } = await runEntry(dir, c, twins);
    const before = await engine.pool.stats();
    const doc = readGraphFile(graphFile);
    const { summary, result } = await engine.execute({ graph: doc });
    expect(summary.error?.message).toBeUndefined();
    expect(summary.status).toBe('finished');
    // The schedule gives KSampler's levels; the Sampler then applies the ComfyUI sampler's own rules to them
    // (uni_pc's 0.001 end, which ComfyUI writes into the recorded sigmas; dpm_fast's and dpm_adaptive's grids;
    // the SDE samplers' first flow level), as check.py's run does inside the sampler.
    // The sigmas the Sampler is handed: the schedule's, or the last sigma node's on a SamplerCustom case.
    const handed = doc.edges.find((e) => e.target === 'sampler' && e.targetPort === 'sigmas')!;
    const sigmas = result!.outputs.get(handed.source)![handed.sourcePort] as { sigmas: number[] };
    expect(sigmas.sigmas.length).toBe(ref.sigmas.length);
    const unipcEnd = c.sampler.startsWith('uni_pc') && sigmas.sigmas[sigmas.sigmas.length - 1] === 0;
    sigmas.sigmas.forEach((s, k) => {
      const theirs = unipcEnd && k === ref.sigmas.length - 1 ? 0 : ref.sigmas[k];
      expect(Math.abs(s - theirs)).toBeLessThanOrEqual(LEVEL_RTOL * Math.abs(theirs) + 1e-12);
    });
    expect((await engine.pool.stats()).runs - before.runs).toBe(ref.calls);
    const latent = result!.outputs.get(c.then ? 'sampler2' : 'sampler')!.latent as { dims: readonly number[]; data: Float32Array };
    expect([...latent.dims]).toEqual(ref.shape);
    const scale = ref.ours_scale ?? 1;
    const ours = scale === 1 ? latent.data : latent.data.map((v) => v * scale);
    expect(relL2(ours, refData.subarray(ref.offset, ref.offset + latent.data.length))).toBeLessThan(c.sampler.startsWith('uni_pc') ? UNIPC_TOL : c.sampler === 'dpm_adaptive' ? ADAPTIVE_TOL : RUN_TOL);
  });

  it.each([
    ['comfyui-dpmpp2m-karras.json', 'run-vp-dpmpp_2m-karras-20-seed42', 'sampler'],
    ['comfyui-dpmpp2m-sde-karras.json', 'run-vp-dpmpp_2m_sde-karras-20-seed42', 'sampler'],
    ['comfyui-two-samplers.json', 'run-vp-dpmpp_2m_sde-karras-20-seed42-ops-split14high-then-dpmpp_2m-split14low-ext2_-1_0_linear-empty', 'refine'],
    ['comfyui-align-your-steps.json', 'run-vp-dpmpp_2m-curve-align_your_steps-model_typeSD1-steps10-denoise1-seed42', 'sampler'],
  ])('examples/%s ends on the latent ComfyUI computes for its settings (%s)', async (file, id, last) => {
    const ref = runRefs.get(id)!;
    const { summary, result } = await engine.execute({ graph: readGraphFile(path.join(EXAMPLES_DIR, file)) });
    expect(summary.status).toBe('finished');
    const latent = result!.outputs.get(last)!.latent as { data: Float32Array };
    expect(relL2(latent.data, refData.subarray(ref.offset, ref.offset + latent.data.length))).toBeLessThan(RUN_TOL);
  });
});
