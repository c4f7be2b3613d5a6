/** The `flowstudio` CLI as a user runs it: a real child process, exit codes, stdout JSON, files written. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { providerHint } from '../electron/engine/onnx/provider-hints.ts';
import { describe, expect, it } from 'vitest';
import { applySets } from '../electron/cli/args.ts';
import { providerWarnings } from '../electron/cli/main.ts';
import { APP_ROOT } from '../electron/engine/paths.ts';
import { fromWireJson } from '../electron/engine/wire-json.ts';
import { createDefaultRegistry } from '../nodes/index.ts';
import { graph, tempDir, testCacheDir } from './helpers/engine.ts';

const BIN = path.join(APP_ROOT, 'bin', 'flowstudio.js');
const EXAMPLE = path.join(APP_ROOT, 'examples', 'gaussian-vp-ddim.json');

function cli(args: string[], cwd = APP_ROOT) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, FLOWSTUDIO_CACHE_DIR: testCacheDir() },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('flowstudio CLI', () => {
  it('run writes a PNG and a .npy, prints a JSON summary, and is byte-reproducible', () => {
    const out1 = tempDir('fs-cli-');
    const out2 = tempDir('fs-cli-');
    const r1 = cli(['run', EXAMPLE, '--out', out1, '--provider', 'cpu']);
    expect(r1.stderr).toMatch(/run finished/);
    expect(r1.code).toBe(0);
    const summary = JSON.parse(r1.stdout);
    expect(summary.status).toBe('finished');
    expect(summary.outDir).toBe(out1);
    const files = fs.readdirSync(out1).sort();
    expect(files).toEqual(['gaussian-vp-ddim.npy', 'gaussian-vp-ddim.png']);
    expect(cli(['run', EXAMPLE, '--out', out2, '--provider', 'cpu', '--quiet']).code).toBe(0);
    const a = fs.readFileSync(path.join(out1, 'gaussian-vp-ddim.npy'));
    const b = fs.readFileSync(path.join(out2, 'gaussian-vp-ddim.npy'));
    expect(Buffer.compare(a, b)).toBe(0);
  });

  it('the summary keeps a non-finite number (PSNR of identical tensors) in the transport\'s form, not as null', () => {
    const dir = tempDir('fs-cli-');
    const file = path.join(dir, 'psnr.json');
    fs.writeFileSync(file, JSON.stringify(graph([{ id: 'latent', type: 'EmptyLatent' }, { id: 'm', type: 'TensorMetrics' }], ['latent.latent->m.a', 'latent.latent->m.b'])));
    const r = cli(['run', file, '--out', dir, '--quiet']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).outputs.m.psnr).toEqual({ kind: 'scalar', value: { $nonfinite: 'Infinity' } });
    expect(fromWireJson(r.stdout)).toMatchObject({ outputs: { m: { psnr: { value: Number.POSITIVE_INFINITY } } } });
  });

  it('--set overrides a param (typed by its declaration) and changes the result', () => {
    const out1 = tempDir('fs-cli-');
    const out2 = tempDir('fs-cli-');
    expect(cli(['run', EXAMPLE, '--out', out1, '--quiet', '--set', 'sampler.steps=5']).code).toBe(0);
    expect(cli(['run', EXAMPLE, '--out', out2, '--quiet', '--set', 'sampler.seed=7', '--set', 'sampler.steps=5']).code).toBe(0);
    const a = fs.readFileSync(path.join(out1, 'gaussian-vp-ddim.npy'));
    const b = fs.readFileSync(path.join(out2, 'gaussian-vp-ddim.npy'));
    expect(Buffer.compare(a, b)).not.toBe(0);
  });

  it('runs a model on noise from a file (the diffusers comparison example); reads only where the user allowed', () => {
    const parity = path.join(APP_ROOT, 'examples', 'diffusers-parity.json');
    const out = tempDir('fs-cli-');
    expect(cli(['run', parity, '--out', out, '--quiet']).code).toBe(0);
    const shipped = fs.readFileSync(path.join(out, 'parity.npy'));

    // A noise file elsewhere: allowed when named with --set (the user's own choice)...
    const elsewhere = tempDir('fs-cli-noise-');
    const noise = path.join(elsewhere, 'noise.npy');
    const bytes = fs.readFileSync(path.join(APP_ROOT, 'examples', 'inputs', 'noise-1x3x16x16.npy'));
    fs.writeFileSync(noise, bytes);
    const viaSet = tempDir('fs-cli-');
    expect(cli(['run', parity, '--out', viaSet, '--quiet', '--set', `noise.path=${noise}`]).code).toBe(0);
    expect(Buffer.compare(fs.readFileSync(path.join(viaSet, 'parity.npy')), shipped)).toBe(0);

    // ...but not when only a graph file names it, unless --read allows the folder.
    const graphDir = tempDir('fs-cli-graph-');
    const doc = JSON.parse(fs.readFileSync(parity, 'utf8'));
    doc.nodes.find((n: { id: string }) => n.id === 'noise').params.path = noise;
    const graphFile = path.join(graphDir, 'g.json');
    fs.writeFileSync(graphFile, JSON.stringify(doc));
    const refused = cli(['run', graphFile, '--out', tempDir('fs-cli-'), '--quiet']);
    expect(refused.code).toBe(1);
    expect(refused.stderr + refused.stdout).toMatch(/outside the folders files may be read from/);
    const allowed = tempDir('fs-cli-');
    expect(cli(['run', graphFile, '--out', allowed, '--quiet', '--read', elsewhere]).code).toBe(0);
    expect(Buffer.compare(fs.readFileSync(path.join(allowed, 'parity.npy')), shipped)).toBe(0);
  });

  it('exit 2 for usage errors and invalid graphs, with the cause', () => {
    expect(cli([]).code).toBe(2);
    const bogus = cli(['frobnicate']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/unknown command "frobnicate"/);
    const badSet = cli(['run', EXAMPLE, '--set', 'nosuchnode.steps=3']);
    expect(badSet.code).toBe(2);
    expect(badSet.stderr).toMatch(/no node "nosuchnode"/);
    // A big graph lists its first 20 node ids, not all of them.
    const big = graph(Array.from({ length: 30 }, (_, i) => ({ id: `n${i}`, type: 'EmptyLatent' })), []);
    expect(() => applySets(big, ['nope.width=3'], createDefaultRegistry())).toThrow(/\(nodes: n0, n1, .*, n19, \.\.\. \(30 in all\)\)$/);
    const badValue = cli(['run', EXAMPLE, '--set', 'sampler.steps=many']);
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toMatch(/"many" is not a number/);

    const dir = tempDir('fs-cli-bad-');
    const broken = path.join(dir, 'cycle.json');
    const doc = JSON.parse(fs.readFileSync(EXAMPLE, 'utf8'));
    doc.nodes.find((n: { id: string }) => n.id === 'sampler').params.steps = 0;
    fs.writeFileSync(broken, JSON.stringify(doc));
    const v = cli(['validate', broken]);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/node "sampler".*steps/);
    expect(v.stderr.match(/node "sampler"/g)).toHaveLength(1); // named once, not prefixed again
    expect(JSON.parse(v.stdout).errors[0]).toMatchObject({ code: 'param_out_of_range', nodeId: 'sampler', param: 'steps' });

    fs.writeFileSync(broken, '{ "format": "flowstudio-graph", ');
    const malformed = cli(['run', broken]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/cycle\.json/);
  });

  it('exit 2 for an unknown --provider and for a graph with a cycle, before anything runs', () => {
    const out = tempDir('fs-cli-usage-');
    const provider = cli(['run', EXAMPLE, '--out', out, '--provider', 'cpu,bogus']);
    expect(provider.code).toBe(2);
    expect(provider.stderr).toMatch(/--provider: unknown execution provider "bogus" \(known: cuda, tensorrt, dml, coreml, webgpu, cpu\)/);
    // A second Sampler feeding the first, which feeds it: sampler -> loop -> sampler.
    const doc = JSON.parse(fs.readFileSync(EXAMPLE, 'utf8'));
    doc.nodes.push({ id: 'loop', type: 'Sampler', params: { steps: 2 }, position: { x: 0, y: 0 } });
    doc.edges = doc.edges.filter((e: { target: string; targetPort: string }) => !(e.target === 'sampler' && e.targetPort === 'latent'));
    doc.edges.push(
      { id: 'c1', source: 'model', sourcePort: 'model', target: 'loop', targetPort: 'model' },
      { id: 'c2', source: 'sampler', sourcePort: 'latent', target: 'loop', targetPort: 'latent' },
      { id: 'c3', source: 'loop', sourcePort: 'latent', target: 'sampler', targetPort: 'latent' },
    );
    const file = path.join(out, 'cyclic.json');
    fs.writeFileSync(file, JSON.stringify(doc));
    const r = cli(['run', file, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cycle/);
    expect(JSON.parse(r.stdout).errors.find((e: { code: string }) => e.code === 'cycle')).toMatchObject({ cycle: ['sampler', 'loop'] });
    expect(fs.existsSync(path.join(out, 'gaussian-vp-ddim.npy'))).toBe(false);
  });

  it('Ctrl+C cancels the run: exit 1, status cancelled, nothing saved', async () => {
    const out = tempDir('fs-cli-sigint-');
    // A run of several seconds (999 steps on a batch of 256).
    const child = spawn(process.execPath, [BIN, 'run', EXAMPLE, '--out', out, '--set', 'sampler.steps=999', '--set', 'latent.batch=256', '--set', 'sampler.record_trajectory=false'], {
      cwd: APP_ROOT,
      env: { ...process.env, FLOWSTUDIO_CACHE_DIR: testCacheDir() },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    // Interrupted once the model is loaded (its line on stderr), so the run is under way and the sampler next.
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/LoadModel/.test(stderr) && child.exitCode === null && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(JSON.parse(stdout).status).toBe('cancelled');
    expect(fs.existsSync(path.join(out, 'gaussian-vp-ddim.npy'))).toBe(false);
  }, 60_000);

  it('exit 1 when the run fails, naming the node', () => {
    const dir = tempDir('fs-cli-fail-');
    fs.writeFileSync(path.join(dir, 'm.onnx'), 'garbage');
    fs.writeFileSync(path.join(dir, 'm.json'), JSON.stringify({ scheduler: { _class_name: 'DDIMScheduler' } }));
    const doc = JSON.parse(fs.readFileSync(EXAMPLE, 'utf8'));
    doc.nodes.find((n: { id: string }) => n.id === 'model').params.model = 'm.onnx';
    fs.writeFileSync(path.join(dir, 'g.json'), JSON.stringify(doc));
    const r = cli(['run', path.join(dir, 'g.json'), '--out', path.join(dir, 'out')], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/model \(LoadModel\) FAILED: cannot load ONNX model/);
    expect(JSON.parse(r.stdout).error.nodeId).toBe('model');
  });

  it('validate lists the files a valid graph reads that are not here (exit 1), looked up where run looks', () => {
    const dir = tempDir('fs-cli-validate-');
    const doc = graph([{ id: 'photo', type: 'LoadImage', params: { path: 'holiday.png' } }], []);
    fs.writeFileSync(path.join(dir, 'shared.flowstudio'), JSON.stringify(doc));
    const missing = cli(['validate', path.join(dir, 'shared.flowstudio')], dir);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toMatchObject({ status: 'missing-files', missingFiles: [{ nodeId: 'photo', param: 'path', value: 'holiday.png', fileKind: 'image' }] });
    expect(missing.stderr).toMatch(/^photo\.path \(LoadImage\): File not found: "holiday\.png"/);
    // In a --read folder, as run would find it.
    const photos = tempDir('fs-cli-validate-photos-');
    fs.writeFileSync(path.join(photos, 'holiday.png'), 'bytes');
    const found = cli(['validate', path.join(dir, 'shared.flowstudio'), '--read', photos], dir);
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout)).toMatchObject({ status: 'valid', missingFiles: [] });
  });

  it('validate, nodes --json and models', () => {
    const v = cli(['validate', EXAMPLE]);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ status: 'valid', missingFiles: [] });
    const nodes = JSON.parse(cli(['nodes', '--json']).stdout) as { type: string; params: unknown }[];
    const sampler = nodes.find((n) => n.type === 'Sampler');
    expect(sampler).toBeDefined();
    expect(JSON.stringify(sampler)).toMatch(/"ddim"/);
    const models = cli(['models', '--json']);
    expect(models.code).toBe(0);
    const list = JSON.parse(models.stdout) as { ref: string; folder: string }[];
    expect(list.map((m) => m.ref)).toContain('embedded:gaussian-vp');
    for (const m of list) expect(fs.existsSync(path.join(m.folder, 'model_index.json'))).toBe(true);
  });
});

describe('provider warnings', () => {
  it('name each model that runs on a later provider, with why the earlier ones refused it', () => {
    const summary = {
      runId: 'r',
      status: 'finished' as const,
      ms: 1,
      outDir: '/o',
      nodes: {},
      outputs: {
        model: { model: { kind: 'model' as const, name: 'sdxl', folder: '/m', provider: 'cpu', fallbackFrom: [{ provider: 'cuda', error: 'CUDA failure 2: out of memory' }] } },
        other: { model: { kind: 'model' as const, name: 'vp', folder: '/v', provider: 'cuda' } },
        latent: { latent: { kind: 'tensor' as const, dims: [1], min: 0, max: 0, mean: 0 } },
      },
    };
    expect(providerWarnings(summary)).toEqual(['model: model sdxl runs on cpu: cuda could not load it (CUDA failure 2: out of memory)']);
  });
});

describe('flowstudio providers', () => {
  it('lists every known provider: whether this machine and build have it, whether it starts, and the default order', () => {
    const json = cli(['providers', '--json']);
    expect(json.code).toBe(0);
    const checks = JSON.parse(json.stdout) as { provider: string; state: string; defaultRank?: number; error?: string; kind?: string }[];
    expect(checks.map((c) => c.provider)).toEqual(['cuda', 'tensorrt', 'dml', 'coreml', 'webgpu', 'cpu']);
    for (const c of checks) {
      expect(['works', 'fails', 'not-on-platform', 'not-installed']).toContain(c.state);
      // A failure says why, sorted the way the session pool sorts it.
      if (c.state === 'fails') expect([typeof c.error, c.kind && ['setup', 'memory', 'model'].includes(c.kind)]).toEqual(['string', true]);
      else expect(c.error).toBeUndefined();
    }
    const cpu = checks.find((c) => c.provider === 'cpu')!;
    expect(cpu.state).toBe('works');
    // The CPU is tried last: after whichever GPU providers this machine has.
    const ranked = checks.filter((c) => c.defaultRank !== undefined).sort((a, b) => a.defaultRank! - b.defaultRank!);
    expect(ranked.at(-1)).toBe(cpu);
    expect(ranked.map((c) => c.defaultRank)).toEqual(ranked.map((_, i) => i + 1));
    if (process.platform === 'linux') {
      expect(checks.filter((c) => c.state === 'not-on-platform').map((c) => c.provider)).toEqual(['dml', 'coreml']);
    }
    const text = cli(['providers']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(checks.length);
    expect(lines.at(-1)).toMatch(/^cpu\s+works \[tried \d(st|nd|rd|th) by default\]$/);
    // A WebGPU provider with no adapter (this machine has no GPU) says what to install.
    const webgpu = checks.find((c) => c.provider === 'webgpu') as { state: string; error?: string; hint?: string };
    if (process.platform === 'linux' && webgpu.state === 'fails' && /adapter/i.test(webgpu.error ?? '')) {
      expect(webgpu.hint).toMatch(/libvulkan1/);
      expect(lines.find((l) => l.startsWith('webgpu'))).toContain('libglvnd');
    }
  });

  it('knows what to do about a missing CUDA and a WebGPU with no adapter, per platform', () => {
    expect(providerHint({ provider: 'cuda', state: 'not-installed' }, 'linux')).toBe('npm run setup:cuda adds it');
    const noAdapter = { provider: 'webgpu', state: 'fails' as const, error: 'Failed to get a WebGPU adapter: No supported adapters' };
    expect(providerHint(noAdapter, 'linux')).toMatch(/Vulkan loader \(libvulkan1\).*libglvnd/);
    expect(providerHint(noAdapter, 'win32')).toBe('no GPU adapter: install or update the GPU driver');
    expect(providerHint({ provider: 'webgpu', state: 'fails', error: 'out of memory' }, 'linux')).toBeUndefined();
    expect(providerHint({ provider: 'webgpu', state: 'works' }, 'linux')).toBeUndefined();
    expect(providerHint({ provider: 'cuda', state: 'fails', error: 'adapter' }, 'linux')).toBeUndefined();
  });
});
