import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_MODELS, embeddedModelFolder, ensureEmbeddedModel } from '../electron/engine/models/embedded.ts';
import { OnnxModelService } from '../electron/engine/models/model-service.ts';
import { SessionPool } from '../electron/engine/onnx/session-pool.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import { LoadModel } from '../nodes/load-model.ts';

let root: string;
let cacheDir: string;
let work: string;
const pool = new SessionPool({ providers: ['cpu'] });
let service: OnnxModelService;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A copy of an embedded model's folder under `work`, to break in various ways. */
async function copyEmbedded(name: string, as: string): Promise<string> {
  const src = await ensureEmbeddedModel(name, cacheDir);
  const dst = path.join(work, as);
  await fs.cp(src, dst, { recursive: true });
  return dst;
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'flowstudio-models-'));
  cacheDir = path.join(root, 'cache');
  work = path.join(root, 'work');
  await fs.mkdir(work, { recursive: true });
  service = new OnnxModelService({ pool, cacheDir, providers: ['cpu'] });
});
afterAll(async () => {
  await pool.dispose();
  await fs.rm(root, { recursive: true, force: true });
});

describe('embedded models', () => {
  it('lists the three analytic models', () => {
    expect(EMBEDDED_MODELS.map((m) => m.name)).toEqual(['gaussian-vp', 'gaussian-vp-continuous', 'gaussian-rf']);
    expect(EMBEDDED_MODELS.map((m) => m.kind)).toEqual(['vp', 'vp', 'flow']);
  });

  it('loads each as a ModelHandle with its scheduler, model index and a CPU session', async () => {
    const expected = {
      'gaussian-vp': { kind: 'unet', sched: 'DDIMScheduler', units: 'scheduler', timestep: 'int64', input: 'sample' },
      'gaussian-vp-continuous': { kind: 'unet', sched: 'EulerDiscreteScheduler', units: 'scheduler', timestep: 'float32', input: 'sample' },
      'gaussian-rf': { kind: 'transformer', sched: 'FlowMatchEulerDiscreteScheduler', units: 'fraction', timestep: 'float32', input: 'hidden_states' },
    } as const;
    for (const [name, want] of Object.entries(expected)) {
      const h = await service.load(`embedded:${name}`);
      expect(h.name).toBe(name);
      expect(h.folder).toBe(embeddedModelFolder(name, cacheDir));
      expect(h.denoiserKind).toBe(want.kind);
      expect(h.scheduler._class_name).toBe(want.sched);
      expect(h.modelIndex.flowstudio).toEqual({ analytic: name, sample_dims: [3, 16, 16], timestep_units: want.units });
      expect(h.modelIndex[want.kind]).toEqual(['diffusers', 'OnnxRuntimeModel']);
      expect(h.denoiser.provider).toBe('cpu');
      expect(h.denoiser.file).toBe(path.join(h.folder, want.kind, 'model.onnx'));
      expect(h.denoiser.inputs).toEqual([
        { name: want.input, type: 'float32', shape: ['batch', 3, 16, 16] },
        { name: 'timestep', type: want.timestep, shape: [1] },
      ]);
      expect(h.key).toContain(h.folder);
    }
    expect(pool.size).toBe(3);
  });

  it('stamps embedded models by generator version and rejects unknown names', async () => {
    const s = await service.stamp('embedded:gaussian-rf');
    expect(s).toMatch(/^embedded:gaussian-rf@v\d+$/);
    expect(await service.stamp('embedded:gaussian-rf')).toBe(s);
    await expect(service.load('embedded:nope')).rejects.toThrow(/unknown embedded model "nope" \(available: gaussian-vp, gaussian-vp-continuous, gaussian-rf\)/);
    await expect(service.stamp('embedded:nope')).rejects.toThrow(/unknown embedded model/);
  });

  it('generation is atomic and idempotent: concurrent first use gives one complete folder, no temp leftovers', async () => {
    const dir = path.join(root, 'cache-concurrent');
    const folders = await Promise.all([ensureEmbeddedModel('gaussian-vp', dir), ensureEmbeddedModel('gaussian-vp', dir)]);
    expect(folders[0]).toBe(folders[1]);
    const parent = path.dirname(folders[0]);
    expect(await fs.readdir(parent)).toEqual(['gaussian-vp']);
    const before = (await fs.stat(path.join(folders[0], 'unet', 'model.onnx'))).mtimeMs;
    // A second call does not rewrite; a folder with a deleted file is regenerated.
    await ensureEmbeddedModel('gaussian-vp', dir);
    expect((await fs.stat(path.join(folders[0], 'unet', 'model.onnx'))).mtimeMs).toBe(before);
    await fs.rm(path.join(folders[0], 'unet', 'model.onnx'));
    await ensureEmbeddedModel('gaussian-vp', dir);
    expect((await fs.stat(path.join(folders[0], 'unet', 'model.onnx'))).size).toBeGreaterThan(768 * 768 * 4);
    expect(await fs.readdir(parent)).toEqual(['gaussian-vp']);
  });

  it('two processes generating the same model at once leave one complete, identical folder', async () => {
    const dir = path.join(root, 'cache-processes');
    const script = path.join(root, 'gen.mts');
    const embeddedTs = path.resolve('electron/engine/models/embedded.ts');
    await fs.writeFile(
      script,
      `import { ensureEmbeddedModel } from ${JSON.stringify(pathToFileURL(embeddedTs).href)};\n` +
        `process.stdout.write(await ensureEmbeddedModel('gaussian-rf', process.argv[2]));\n`,
    );
    const runOne = () =>
      new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['--import', 'tsx', script, dir], { cwd: process.cwd() }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
        );
      });
    const outs = await Promise.all([runOne(), runOne(), runOne()]);
    const folder = embeddedModelFolder('gaussian-rf', dir);
    expect(outs).toEqual([folder, folder, folder]);
    expect(await fs.readdir(path.dirname(folder))).toEqual(['gaussian-rf']);
    const reference = await ensureEmbeddedModel('gaussian-rf', cacheDir);
    for (const f of ['model_index.json', 'scheduler/scheduler_config.json', 'transformer/model.onnx']) {
      expect(Buffer.compare(await fs.readFile(path.join(folder, f)), await fs.readFile(path.join(reference, f)))).toBe(0);
    }
  });

  it('honours FLOWSTUDIO_CACHE_DIR when no cache folder is given', async () => {
    const old = process.env.FLOWSTUDIO_CACHE_DIR;
    process.env.FLOWSTUDIO_CACHE_DIR = path.join(root, 'env-cache');
    try {
      expect(embeddedModelFolder('gaussian-rf')).toBe(embeddedModelFolder('gaussian-rf', path.join(root, 'env-cache')));
      expect(embeddedModelFolder('gaussian-rf').startsWith(path.join(root, 'env-cache') + path.sep)).toBe(true);
    } finally {
      if (old === undefined) delete process.env.FLOWSTUDIO_CACHE_DIR;
      else process.env.FLOWSTUDIO_CACHE_DIR = old;
    }
  });
});

describe('diffusers-ONNX folders', () => {
  it('loads a folder by path and restamps when a file changes', async () => {
    const folder = await copyEmbedded('gaussian-rf', 'rf-folder');
    const h = await service.load(folder);
    expect(h.name).toBe('rf-folder');
    expect(h.denoiserKind).toBe('transformer');
    expect(h.scheduler._class_name).toBe('FlowMatchEulerDiscreteScheduler');
    const s1 = await service.stamp(folder);
    expect(h.key).toBe(`${folder}#${s1}`);
    const cfgFile = path.join(folder, 'scheduler', 'scheduler_config.json');
    const cfg = JSON.parse(await fs.readFile(cfgFile, 'utf8'));
    await fs.writeFile(cfgFile, JSON.stringify({ ...cfg, shift: 3.0 }));
    const later = new Date(Date.now() + 10_000);
    await fs.utimes(cfgFile, later, later);
    const s2 = await service.stamp(folder);
    expect(s2).not.toBe(s1);
    expect((await service.load(folder)).scheduler.shift).toBe(3.0);
    // External weights under any name (diffusers' convert script writes weights.pb) are stamped too.
    const weights = path.join(folder, 'transformer', 'weights.pb');
    await fs.writeFile(weights, 'w1');
    const s3 = await service.stamp(folder);
    expect(s3).not.toBe(s2);
    await fs.writeFile(weights, 'w2-longer');
    expect(await service.stamp(folder)).not.toBe(s3);
  });

  it("reads the folder's diffusers guider configs (guider/, ocr_guider/) that model_index.json names, and stamps them", async () => {
    const folder = await copyEmbedded('gaussian-rf', 'rf-guided');
    expect((await service.load(folder)).guiders).toBeUndefined();
    const guider = { _class_name: 'AdaptiveProjectedMixGuidance', guidance_scale: 3.5, adaptive_projected_guidance_start_step: 5 };
    await fs.mkdir(path.join(folder, 'guider'));
    await fs.writeFile(path.join(folder, 'guider', 'guider_config.json'), JSON.stringify(guider));
    // Not named in model_index.json: diffusers would not load it either.
    expect((await service.load(folder)).guiders).toBeUndefined();
    const indexFile = path.join(folder, 'model_index.json');
    const index = JSON.parse(await fs.readFile(indexFile, 'utf8'));
    const listed = { ...index, guider: ['diffusers', 'AdaptiveProjectedMixGuidance'], ocr_guider: ['diffusers', 'ClassifierFreeGuidance'] };
    await fs.writeFile(indexFile, JSON.stringify(listed));
    const s1 = await service.stamp(folder);
    expect((await service.load(folder)).guiders).toEqual({ guider });
    // An edited guider config restamps the model (cached runs see the change).
    await fs.writeFile(path.join(folder, 'guider', 'guider_config.json'), JSON.stringify({ ...guider, guidance_scale: 4 }));
    const later = new Date(Date.now() + 10_000);
    await fs.utimes(path.join(folder, 'guider', 'guider_config.json'), later, later);
    expect(await service.stamp(folder)).not.toBe(s1);
    await fs.mkdir(path.join(folder, 'ocr_guider'));
    await fs.writeFile(path.join(folder, 'ocr_guider', 'guider_config.json'), JSON.stringify({ _class_name: 'ClassifierFreeGuidance' }));
    const both = await service.load(folder);
    expect(both.guiders?.guider?.guidance_scale).toBe(4);
    expect(both.guiders?.ocr_guider).toEqual({ _class_name: 'ClassifierFreeGuidance' });
    await fs.writeFile(indexFile, JSON.stringify({ ...listed, ocr_guider: [null, null] }));
    expect(Object.keys((await service.load(folder)).guiders ?? {})).toEqual(['guider']);
    await fs.writeFile(path.join(folder, 'guider', 'guider_config.json'), '{ not json');
    await expect(service.load(folder)).rejects.toThrow(new RegExp(`invalid JSON in ${escape(path.join(folder, 'guider', 'guider_config.json'))}`));
  });

  it('names the missing piece: no denoiser, no scheduler config, no model_index.json, no folder', async () => {
    const noUnet = await copyEmbedded('gaussian-vp', 'no-unet');
    await fs.rm(path.join(noUnet, 'unet'), { recursive: true });
    await expect(service.load(noUnet)).rejects.toThrow(`model folder ${noUnet} has no denoiser: expected unet/model.onnx or transformer/model.onnx`);
    await expect(service.stamp(noUnet)).rejects.toThrow(/has no denoiser/);

    const noSched = await copyEmbedded('gaussian-vp', 'no-scheduler');
    await fs.rm(path.join(noSched, 'scheduler'), { recursive: true });
    await expect(service.load(noSched)).rejects.toThrow(`model folder ${noSched} is missing scheduler/scheduler_config.json`);

    const noIndex = await copyEmbedded('gaussian-vp', 'no-index');
    await fs.rm(path.join(noIndex, 'model_index.json'));
    await expect(service.load(noIndex)).rejects.toThrow(`model folder ${noIndex} has no model_index.json`);

    const badJson = await copyEmbedded('gaussian-vp', 'bad-json');
    await fs.writeFile(path.join(badJson, 'scheduler', 'scheduler_config.json'), '{"_class_name": ');
    await expect(service.load(badJson)).rejects.toThrow(/invalid JSON in .*scheduler_config\.json/);

    // Nested past the stack: refused on reading, not a bare "Maximum call stack size exceeded" later.
    const deep = await copyEmbedded('gaussian-vp', 'deep-json');
    await fs.writeFile(path.join(deep, 'scheduler', 'scheduler_config.json'), `{"_class_name": "DDIMScheduler", "x": ${'['.repeat(50_000)}${']'.repeat(50_000)}}`);
    await expect(service.load(deep)).rejects.toThrow(/scheduler_config\.json: x\[0\]\[0\] is nested more than 64 levels deep/);

    await expect(service.load(path.join(work, 'does-not-exist'))).rejects.toThrow(/model not found: .*does-not-exist/);
    await expect(service.load('  ')).rejects.toThrow(/no model given/);
  });

  it('reports a corrupt model.onnx (random bytes) as a clear load error', async () => {
    const folder = await copyEmbedded('gaussian-vp', 'corrupt');
    const file = path.join(folder, 'unet', 'model.onnx');
    let s = 12345;
    const junk = Uint8Array.from({ length: 4096 }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24));
    await fs.writeFile(file, junk);
    await expect(service.load(folder)).rejects.toThrow(new RegExp(`^cannot load ONNX model ${escape(file)}: \\S`));
  });
});

describe('single .onnx with sidecar', () => {
  it('loads x.onnx with x.json, synthesizing the model index', async () => {
    const src = await ensureEmbeddedModel('gaussian-rf', cacheDir);
    const file = path.join(work, 'flow.onnx');
    await fs.copyFile(path.join(src, 'transformer', 'model.onnx'), file);
    await fs.writeFile(path.join(work, 'flow.json'), JSON.stringify({ scheduler: { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 1 } }));
    const h = await service.load(file);
    expect(h.name).toBe('flow');
    expect(h.denoiserKind).toBe('transformer');
    expect(h.scheduler).toEqual({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 1 });
    expect(h.modelIndex._class_name).toBe('FlowStudioSingleFilePipeline');
    expect(h.denoiser.file).toBe(file);
    expect(h.key.startsWith(`${file}#`)).toBe(true);

    // An explicit model index and denoiser kind are taken as given.
    await fs.writeFile(
      path.join(work, 'flow.json'),
      JSON.stringify({ scheduler: { _class_name: 'DDIMScheduler' }, modelIndex: { _class_name: 'X', flowstudio: { timestep_units: 'fraction' } }, denoiser: 'transformer' }),
    );
    const later = new Date(Date.now() + 10_000);
    await fs.utimes(path.join(work, 'flow.json'), later, later);
    const h2 = await service.load(file);
    expect(h2.modelIndex).toEqual({ _class_name: 'X', flowstudio: { timestep_units: 'fraction' } });
    expect(h2.denoiserKind).toBe('transformer');
    expect(h2.key).not.toBe(h.key);
  });

  it('takes guider configs from the sidecar\'s "guider" / "ocr_guider" objects', async () => {
    const src = await ensureEmbeddedModel('gaussian-rf', cacheDir);
    const file = path.join(work, 'guided.onnx');
    await fs.copyFile(path.join(src, 'transformer', 'model.onnx'), file);
    const guider = { _class_name: 'ClassifierFreeGuidance', guidance_scale: 5 };
    await fs.writeFile(path.join(work, 'guided.json'), JSON.stringify({ scheduler: { _class_name: 'FlowMatchEulerDiscreteScheduler' }, guider }));
    expect((await service.load(file)).guiders).toEqual({ guider });
    await fs.writeFile(path.join(work, 'guided.json'), JSON.stringify({ scheduler: { _class_name: 'FlowMatchEulerDiscreteScheduler' }, guider: [1] }));
    const later = new Date(Date.now() + 10_000);
    await fs.utimes(path.join(work, 'guided.json'), later, later);
    await expect(service.load(file)).rejects.toThrow(/"guider" in .*guided\.json must be a JSON object/);
  });

  it('requires the sidecar and its scheduler object; reports missing and corrupt files', async () => {
    const src = await ensureEmbeddedModel('gaussian-vp', cacheDir);
    const file = path.join(work, 'lonely.onnx');
    await fs.copyFile(path.join(src, 'unet', 'model.onnx'), file);
    await expect(service.load(file)).rejects.toThrow(`model ${file} has no sidecar ${path.join(work, 'lonely.json')}`);
    await fs.writeFile(path.join(work, 'lonely.json'), JSON.stringify({ modelIndex: {} }));
    await expect(service.load(file)).rejects.toThrow(/has no "scheduler" object/);
    await fs.writeFile(path.join(work, 'lonely.json'), JSON.stringify({ scheduler: { _class_name: 'DDIMScheduler' } }));
    expect((await service.load(file)).denoiserKind).toBe('unet');

    await expect(service.load(path.join(work, 'missing.onnx'))).rejects.toThrow(`model file not found: ${path.join(work, 'missing.onnx')}`);

    const bad = path.join(work, 'bad.onnx');
    await fs.writeFile(bad, Uint8Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff));
    await fs.writeFile(path.join(work, 'bad.json'), JSON.stringify({ scheduler: {} }));
    await expect(service.load(bad)).rejects.toThrow(new RegExp(`^cannot load ONNX model ${escape(bad)}: \\S`));
  });
});

describe('path checks and cancellation', () => {
  it('sends user paths through resolveRead (folders via model_index.json) and skips it for embedded models', async () => {
    const allowed = path.join(work, 'allowed');
    await fs.mkdir(allowed, { recursive: true });
    await fs.cp(await ensureEmbeddedModel('gaussian-vp', cacheDir), path.join(allowed, 'vp'), { recursive: true });
    const outside = await copyEmbedded('gaussian-vp', 'outside');
    const seen: string[] = [];
    const checked = new OnnxModelService({
      pool,
      cacheDir,
      resolveRead: (p) => {
        const abs = path.resolve(allowed, p);
        seen.push(abs);
        if (!abs.startsWith(allowed + path.sep)) throw new Error(`Cannot read "${p}": outside the allowed folders`);
        return abs;
      },
    });
    const h = await checked.load('vp'); // relative to the allowed root
    expect(h.folder).toBe(path.join(allowed, 'vp'));
    expect(seen).toContain(path.join(allowed, 'vp', 'model_index.json'));
    expect(seen).toContain(path.join(allowed, 'vp', 'unet', 'model.onnx'));
    await expect(checked.load(outside)).rejects.toThrow(/cannot open model .*outside the allowed folders/);
    seen.length = 0;
    await checked.load('embedded:gaussian-vp');
    expect(seen).toEqual([]);
  });

  it('load rejects with an AbortError when the signal is already aborted', async () => {
    const c = new AbortController();
    c.abort();
    await expect(service.load('embedded:gaussian-vp', c.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('cancelling a slow load', () => {
  it('rejects at once; the session goes on loading and the next load gets it', async () => {
    const ort = await import('../electron/engine/onnx/ort.ts');
    // The session load is held at a gate the test opens: "did not wait" is an order of events, not a time.
    let creations = 0;
    let opened = false;
    let open = () => {};
    let started = () => {};
    const loadStarted = new Promise<void>((r) => (started = r));
    const gate = new Promise<void>((r) => (open = () => ((opened = true), r())));
    const slowPool = new SessionPool({
      providers: ['cpu'],
      createSession: async (model, options) => {
        creations++;
        started();
        await gate;
        return ort.InferenceSession.create(model as string, options);
      },
    });
    const slow = new OnnxModelService({ pool: slowPool, cacheDir, providers: ['cpu'] });
    try {
      const controller = new AbortController();
      const load = slow.load('embedded:gaussian-vp', controller.signal);
      await loadStarted;
      const fallback = setTimeout(open, 5000); // a wrong implementation fails below instead of hanging
      controller.abort();
      await expect(load).rejects.toMatchObject({ name: 'AbortError' });
      expect(opened).toBe(false);
      clearTimeout(fallback);
      open();
      const handle = await slow.load('embedded:gaussian-vp');
      expect(handle.denoiser.provider).toBe('cpu');
      expect(creations).toBe(1);
    } finally {
      await slowPool.dispose();
    }
  });
});

describe('LoadModel node', () => {
  it('declares a model file param defaulting to the embedded VP model and a MODEL output', () => {
    expect(LoadModel.type).toBe('LoadModel');
    expect(LoadModel.category).toBe('model');
    expect(LoadModel.params.model).toMatchObject({ kind: 'file', fileKind: 'model', mode: 'read', default: 'embedded:gaussian-vp' });
    expect(LoadModel.outputs.model.type).toBe('MODEL');
  });

  it('loads through ctx.models and salts the cache with the model stamp', async () => {
    const signal = new AbortController().signal;
    const ctx = { models: service, signal } as unknown as ExecContext;
    const out = await LoadModel.execute(ctx, {}, { model: 'embedded:gaussian-rf' });
    expect(out.model.name).toBe('gaussian-rf');
    expect(out.model.denoiserKind).toBe('transformer');
    const salt = await LoadModel.cacheSalt!({ model: 'embedded:gaussian-rf' }, ctx);
    expect(salt).toBe(await service.stamp('embedded:gaussian-rf'));
  });
});
