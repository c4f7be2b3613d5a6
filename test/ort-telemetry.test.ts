/**
 * ONNX Runtime 1.30 on Linux starts telemetry with its first session unless ORT_DISABLE_TELEMETRY is set
 * (electron/engine/onnx/telemetry.ts). Run in child processes with their own HOME, cache and temp folders
 * and without the variable: the CLI (engine on the main thread) and a WorkerEngine (sessions on a worker
 * thread, whose process.env the native runtime never reads) must leave no trace of it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { disableOrtTelemetry, ORT_TELEMETRY_VARIABLE } from '../electron/engine/onnx/telemetry.ts';
import { APP_ROOT, EXAMPLES_DIR } from '../electron/engine/paths.ts';
import { tempDir, testCacheDir } from './helpers/engine.ts';

const EXAMPLE = path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json');

/** A child's environment: a fresh home, cache and temp folder, the variable unset, the shared model cache. */
function isolatedEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CACHE_HOME: path.join(home, 'cache'), TMPDIR: path.join(home, 'tmp'), FLOWSTUDIO_CACHE_DIR: testCacheDir() };
  delete env[ORT_TELEMETRY_VARIABLE];
  fs.mkdirSync(env.TMPDIR!, { recursive: true });
  return env;
}

/**
 * Everything a run left in its home outside its output folder, its script and tsx's compile cache. ORT's
 * telemetry writes a database under the cache folder, a debug log per process and a session file in TMPDIR.
 */
function leftovers(home: string): string[] {
  const expected = new Set(['out', 'worker-run.mjs', 'tmp']);
  const found = fs.readdirSync(home, { recursive: true, encoding: 'utf8' }).map((f) => f.split(path.sep).join('/'));
  return found.filter((f) => !expected.has(f) && !f.startsWith('out/') && !/^tmp\/tsx-\d+(\/|$)/.test(f)).sort();
}

function run(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, args, { cwd: APP_ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stderr: r.stderr };
}

describe('ONNX Runtime telemetry', () => {
  it('is switched off unless the user set the variable', () => {
    const env: NodeJS.ProcessEnv = {};
    disableOrtTelemetry(env);
    expect(env[ORT_TELEMETRY_VARIABLE]).toBe('1');
    const chosen: NodeJS.ProcessEnv = { [ORT_TELEMETRY_VARIABLE]: '0' };
    disableOrtTelemetry(chosen);
    expect(chosen[ORT_TELEMETRY_VARIABLE]).toBe('0');
  });

  it('leaves no trace from a CLI run', () => {
    const home = tempDir('fs-telemetry-cli-');
    const r = run([path.join(APP_ROOT, 'bin', 'flowstudio.js'), 'run', EXAMPLE, '--out', path.join(home, 'out'), '--provider', 'cpu', '--quiet'], isolatedEnv(home));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.readdirSync(path.join(home, 'out')).length).toBeGreaterThan(0);
    expect(leftovers(home)).toEqual([]);
  });

  it('leaves no trace from a run in the engine worker', () => {
    const home = tempDir('fs-telemetry-worker-');
    const client = pathToFileURL(path.join(APP_ROOT, 'electron', 'engine', 'worker', 'worker-client.ts')).href;
    const io = pathToFileURL(path.join(APP_ROOT, 'electron', 'engine', 'graph', 'io.ts')).href;
    const script = `
      const { WorkerEngine } = await import(${JSON.stringify(client)});
      const { readGraphFile } = await import(${JSON.stringify(io)});
      const engine = new WorkerEngine({ outDir: ${JSON.stringify(path.join(home, 'out'))}, providers: ['cpu'] });
      const summary = await engine.run({ graph: readGraphFile(${JSON.stringify(EXAMPLE)}) });
      await engine.close();
      if (summary.status !== 'finished') throw new Error('run ' + summary.status);
    `;
    const file = path.join(home, 'worker-run.mjs');
    fs.writeFileSync(file, script);
    const r = run(['--import', 'tsx', file], isolatedEnv(home));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(leftovers(home)).toEqual([]);
  });
});
