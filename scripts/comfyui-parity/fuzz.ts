/**
 * Randomized ComfyUI parity cases (the README's fuzz round): `npx tsx scripts/comfyui-parity/fuzz.ts <dir> <seed>
 * <unguided count> <guided count> [<id regex>]`. Writes the same layout prepare.ts writes (manifest.json with runs
 * only) for random KSampler settings, through setup.ts's runEntry and the CLI; check.py then runs them.
 * FUZZ_CASES=<file.json> instead replays a list of RunCase objects (minimal repros); FUZZ_EDITED=<count> adds that
 * many SamplerCustom cases on sigmas edited by random sigma nodes (editedCases); FUZZ_CURVES=<count> that many on
 * random stand-alone scheduler nodes' levels (curveRunCases).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ensureEmbeddedModel } from '../../electron/engine/models/embedded.ts';
import { runGraphCli } from '../parity-cli.ts';
import { COMFY_SAMPLERS, COMFY_SCHEDULERS, type ComfyScheduler } from '../../nodes/sampling/comfy-schedules.ts';
import type { ComfySigmaCurve } from '../../nodes/sampling/comfy-sigma-curves.ts';
import { prepareComfyDir, runEntry } from './setup.ts';
import type { AnalyticComfyModel, RunCase, SigmaOp } from './cases.ts';

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T,>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
  };
}

/** The CFG++ samplers read ComfyUI's post-CFG hook, which fires only in guided runs (on the twins). */
const isCfgPp = (s: string) => s.endsWith('_cfg_pp') || s.startsWith('cfgpp_');
const UNGUIDED = Object.keys(COMFY_SAMPLERS).filter((s) => !isCfgPp(s));
const CFG_PP = Object.keys(COMFY_SAMPLERS).filter(isCfgPp);

function steps(r: ReturnType<typeof rng>): number {
  const u = r.next();
  if (u < 0.35) return r.int(1, 4);
  if (u < 0.75) return r.int(5, 12);
  if (u < 0.92) return r.int(13, 25);
  return r.int(26, 40);
}

function tag(c: RunCase, k: number): string {
  const m = c.model === 'gaussian-vp' ? 'vp' : c.model === 'gaussian-vp-continuous' ? 'vpc' : c.model === 'gaussian-rf' ? 'rf' : c.model;
  const cfg = Object.entries(c.config).map(([a, b]) => `${a.replace(/_/g, '')}${String(b).replace(/_/g, '')}`).join('-');
  return `fz${k}-${m}-${c.sampler}-${c.scheduler}-${c.steps}-d${c.denoise}-b${c.batch}${cfg ? '-' + cfg : ''}${c.cfg !== undefined ? `-cfg${c.cfg}` : ''}${c.apg ? `-apg${c.apg.eta}_${c.apg.norm_threshold}_${c.apg.momentum}` : ''}`;
}

export function fuzzCases(seed: number, nUnguided: number, nGuided: number): RunCase[] {
  const r = rng(seed);
  const out: RunCase[] = [];
  for (let k = 0; k < nUnguided; k++) {
    const model = r.pick<AnalyticComfyModel>(['gaussian-vp', 'gaussian-vp', 'gaussian-vp-continuous', 'gaussian-rf', 'gaussian-rf']);
    const sampler = r.pick(UNGUIDED);
    let scheduler: ComfyScheduler = r.pick(COMFY_SCHEDULERS);
    let n = steps(r);
    if (scheduler === 'kl_optimal' && n === 1) n = 2; // known: NaN in ComfyUI
    const denoise = r.next() < 0.7 ? 1 : Number((0.05 + r.next() * 0.94).toFixed(2));
    const batch = denoise < 1 ? 1 : r.pick([1, 1, 1, 2, 3]);
    const config: Record<string, unknown> = {};
    if (model !== 'gaussian-rf') {
      const u = r.next();
      if (u < 0.15) config.prediction_type = 'v_prediction';
      else if (u < 0.25) Object.assign(config, { prediction_type: 'v_prediction', rescale_betas_zero_snr: true });
      else if (u < 0.35) Object.assign(config, { beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02 });
    } else {
      const u = r.next();
      if (u < 0.45) config.shift = r.pick([0.5, 1.5, 2, 3, 5, 7.5]);
    }
    const c: RunCase = { id: '', model, config, scheduler, steps: n, denoise, sampler, seed: r.int(0, 2 ** 31 - 1), batch };
    c.id = tag(c, k);
    out.push(c);
  }
  for (let k = 0; k < nGuided; k++) {
    const model = r.pick(['sd15', 'sd15', 'sd3'] as const);
    const u = r.next();
    let sampler: string;
    if (u < 0.45) sampler = r.pick(CFG_PP);
    else sampler = r.pick(['euler', 'euler_ancestral', 'heun', 'dpmpp_2m', 'dpmpp_2m_sde', 'dpmpp_sde', 'uni_pc', 'res_multistep', 'lms', 'ddim', 'dpm_2', 'deis', 'ipndm', 'er_sde', 'sa_solver']);
    const scheduler: ComfyScheduler = model === 'sd3' ? r.pick(['simple', 'normal', 'beta', 'karras', 'sgm_uniform', 'linear_quadratic']) : r.pick(COMFY_SCHEDULERS.filter((s) => s !== 'kl_optimal'));
    const cfg = r.next() < 0.2 ? 1 : Number((1 + r.next() * 11).toFixed(1));
    const apg = r.next() < 0.3 ? { eta: r.pick([0, 0.5, 1, -0.5, 2]), norm_threshold: r.pick([0, 1, 2.5, 5, 15]), momentum: r.pick([0, -0.5, -0.75, 0.3, 0.5, -2]) } : undefined;
    const c: RunCase = { id: '', model, config: {}, scheduler, steps: r.int(1, 12), denoise: 1, sampler, seed: r.int(0, 2 ** 31 - 1), batch: 1, cfg, ...(apg ? { apg } : {}) };
    c.id = tag(c, nUnguided + k);
    out.push(c);
  }
  return out;
}

/**
 * ODE samplers that walk up flipped sigmas (unsampling): no noise, no grid of their own. Not ComfyUI's uni_pc, whose
 * code assumes a descending grid (its order is min(3, levels - 2), its result is divided by the last level's alpha).
 */
const UNSAMPLERS = ['euler', 'heun', 'dpm_2', 'dpmpp_2m', 'lms', 'ipndm', 'res_multistep', 'gradient_estimation'];

/** SamplerCustom cases on BasicScheduler levels edited by one or two random sigma nodes, from the init latent. */
export function editedCases(seed: number, n: number, first: number): RunCase[] {
  const r = rng(seed);
  const out: RunCase[] = [];
  for (let k = 0; k < n; k++) {
    const model = r.pick<AnalyticComfyModel>(['gaussian-vp', 'gaussian-vp', 'gaussian-vp-continuous', 'gaussian-rf', 'gaussian-rf']);
    const flow = model === 'gaussian-rf';
    const scheduler: ComfyScheduler = r.pick(COMFY_SCHEDULERS.filter((s) => s !== 'kl_optimal'));
    const steps = r.int(3, 16);
    const config: Record<string, unknown> = flow && r.next() < 0.4 ? { shift: r.pick([1.5, 3, 5]) } : {};
    const ops: SigmaOp[] = [];
    let count = steps;
    // Unsampling runs on VP models only: ComfyUI's flow result divides by 1 - 1 there.
    const unsample = !flow && r.next() < 0.2;
    const sampler = unsample ? r.pick(UNSAMPLERS) : r.pick(UNGUIDED);
    if (unsample) ops.push({ op: 'flip' });
    for (let j = r.int(1, 2); j > 0; j--) {
      const u = r.next();
      if (u < 0.3 && count >= 2) {
        const step = r.int(1, count - 1);
        // After a flip only the part that starts at its bottom: a Sampler continues from its latent in the model's
        // variables, where ComfyUI takes it as its VE state (they agree only at a level near 0).
        const part = unsample ? 'high' : r.pick(['high', 'low'] as const);
        ops.push({ op: 'split', step, part });
        count = part === 'high' ? step : count - step;
      } else if (u < 0.45 && count >= 2) {
        const denoise = Number((0.1 + r.next() * 0.8).toFixed(2));
        const low = Math.round(count * denoise);
        if (low < 1 || low >= count) continue;
        const part = unsample ? 'high' : r.pick(['high', 'low'] as const);
        ops.push({ op: 'split_denoise', denoise, part });
        count = part === 'low' ? low : count - low;
      } else if (u < 0.7 && !unsample) {
        ops.push({ op: 'set_first', sigma: flow ? r.pick([0.3, 0.7, 0.95, 1]) : r.pick([0.5, 3, 8, 14.614642, 20, 136]) });
      } else {
        const extend = r.int(1, 4);
        const spacing = r.pick(['linear', 'cosine', 'sine'] as const);
        const top = flow ? 1 : 15;
        const a = Number((r.next() * top).toFixed(2));
        const b = Number((r.next() * top).toFixed(2));
        // The step count grows by the steps inside the range only: `count` stays a lower bound for later splits.
        ops.push({ op: 'extend', steps: extend, start_at_sigma: r.next() < 0.4 ? -1 : Math.max(a, b), end_at_sigma: Math.min(a, b), spacing });
      }
    }
    if (ops.length === 0) ops.push({ op: 'set_first', sigma: flow ? 0.8 : 10 });
    // A two-sampler chain: the first stage's sigmas end at a split's high part, the second runs the low part.
    const chained = !unsample && r.next() < 0.35;
    let then: RunCase['then'];
    if (chained) {
      const k = r.int(1, steps - 1);
      ops.splice(0, ops.length, { op: 'split', step: k, part: 'high' });
      const rest: SigmaOp[] = [{ op: 'split', step: k, part: 'low' }];
      if (r.next() < 0.4) rest.push({ op: 'extend', steps: r.int(2, 3), start_at_sigma: -1, end_at_sigma: 0, spacing: r.pick(['linear', 'cosine', 'sine'] as const) });
      then = { sampler: r.pick(UNGUIDED.filter((s) => s !== 'dpm_adaptive')), sigmaOps: rest };
    }
    const c: RunCase = { id: '', model, config, scheduler, steps, denoise: 1, sampler, seed: r.int(0, 2 ** 31 - 1), batch: 1, sigmaOps: ops, ...(unsample ? { addNoise: false } : {}), ...(then ? { then } : {}), ...(!unsample && r.next() < 0.4 ? { emptyLatent: true } : {}) };
    const opsTag = (list: SigmaOp[]) => list.map((o) => Object.values(o).join('_')).join('-');
    c.id = `${tag(c, first + k)}-${opsTag(ops)}${then ? `-then-${then.sampler}-${opsTag(then.sigmaOps)}` : ''}${c.emptyLatent ? '-empty' : ''}`.replace(/[^A-Za-z0-9._-]/g, '');
    out.push(c);
  }
  return out;
}

/** SamplerCustom cases on a random scheduler node's levels (Schedule (ComfyUI custom)), from an empty latent. */
export function curveRunCases(seed: number, n: number, first: number): RunCase[] {
  const r = rng(seed);
  const out: RunCase[] = [];
  const num = (lo: number, hi: number, digits = 2) => Number((lo + r.next() * (hi - lo)).toFixed(digits));
  for (let k = 0; k < n; k++) {
    const flow = r.next() < 0.35;
    const model: AnalyticComfyModel = flow ? 'gaussian-rf' : r.pick(['gaussian-vp', 'gaussian-vp-continuous'] as const);
    const steps = r.int(2, 16);
    const top = flow ? 1 : r.pick([14.614642, 10, 80]);
    const low = flow ? num(0.001, 0.05, 3) : r.pick([0.0291675, 0.1, 0.03]);
    const options: [ComfySigmaCurve, Record<string, number | string>][] = flow
      ? [
          ['karras', { steps, sigma_max: top, sigma_min: low, rho: r.pick([3, 7]) }],
          ['exponential', { steps, sigma_max: top, sigma_min: low }],
          ['polyexponential', { steps, sigma_max: top, sigma_min: low, rho: r.pick([0.5, 1, 2]) }],
          ['optimal_steps', { model_type: r.pick(['FLUX', 'Wan', 'Chroma']), steps: Math.max(steps, 3), denoise: 1 }],
          ['manual', { sigmas: [1, ...Array.from({ length: steps - 1 }, (_, j) => (1 - (j + 1) / steps).toFixed(3)), 0].join(', ') }],
        ]
      : [
          ['align_your_steps', { model_type: r.pick(['SD1', 'SDXL']), steps, denoise: r.next() < 0.8 ? 1 : num(0.4, 0.9) }],
          ['gits', { coeff: r.pick([0.8, 1.0, 1.2, 1.5]), steps: Math.max(steps, 2), denoise: 1 }],
          ['karras', { steps, sigma_max: top, sigma_min: low, rho: r.pick([3, 7]) }],
          ['exponential', { steps, sigma_max: top, sigma_min: low }],
          ['laplace', { steps, sigma_max: top, sigma_min: low, mu: r.pick([0, 0.5]), beta: r.pick([0.5, 1]) }],
          ['vp', { steps, beta_d: 19.9, beta_min: 0.1, eps_s: 0.001 }],
          ['sd_turbo', { steps: Math.min(steps, 10), denoise: 1 }],
          ['beta', { steps, alpha: r.pick([0.6, 1, 2]), beta: r.pick([0.6, 0.5]) }],
          ['manual', { sigmas: [14.6146, ...Array.from({ length: steps - 1 }, (_, j) => (14.6146 * (1 - (j + 1) / steps) ** 2).toFixed(3)), 0].join(', ') }],
        ];
    const [name, params] = r.pick(options);
    const c: RunCase = { id: '', model, config: {}, scheduler: 'normal', steps, denoise: 1, sampler: r.pick(UNGUIDED), seed: r.int(0, 2 ** 31 - 1), batch: 1, curve: { name, params } };
    c.id = `fz${first + k}-${model === 'gaussian-rf' ? 'rf' : model === 'gaussian-vp' ? 'vp' : 'vpc'}-${c.sampler}-curve-${name}-${Object.values(params).join('_')}`.replace(/[^A-Za-z0-9._-]/g, '');
    out.push(c);
  }
  return out;
}

async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2]);
  const cases: RunCase[] = process.env.FUZZ_CASES
    ? JSON.parse(await fs.readFile(process.env.FUZZ_CASES, 'utf8'))
    : fuzzCases(Number(process.argv[3] ?? 1), Number(process.argv[4] ?? 10), Number(process.argv[5] ?? 0));
  if (!process.env.FUZZ_CASES && process.env.FUZZ_EDITED) cases.push(...editedCases(Number(process.argv[3] ?? 1) + 7919, Number(process.env.FUZZ_EDITED), cases.length));
  if (!process.env.FUZZ_CASES && process.env.FUZZ_CURVES) cases.push(...curveRunCases(Number(process.argv[3] ?? 1) + 104729, Number(process.env.FUZZ_CURVES), cases.length));
  const only = process.argv[6] ? new RegExp(process.argv[6]) : undefined;
  await fs.rm(dir, { recursive: true, force: true });
  const twins = await prepareComfyDir(dir, (name) => ensureEmbeddedModel(name));
  const runs = [];
  await fs.writeFile(path.join(dir, 'cases.json'), JSON.stringify(cases, null, 1));
  for (const c of cases.filter((c) => !only || only.test(c.id))) {
    const t0 = Date.now();
    const { graphFile, entry } = await runEntry(dir, c, twins);
    const error = await runGraphCli(graphFile, path.join(dir, 'ours'), dir);
    process.stderr.write(`${error ? 'FAIL' : 'ok  '} ${c.id} ${Date.now() - t0}ms${error ? `: ${error}` : ''}\n`);
    runs.push({ ...entry, ours: error ? null : `ours/${c.id}.npy`, ours_error: error });
  }
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ grids: [], curves: [], runs }, null, 1));
}

await main();
