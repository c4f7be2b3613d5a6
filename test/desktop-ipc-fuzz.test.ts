/**
 * Junk over the desktop's IPC, as test/server.test.ts sends junk over HTTP: random methods and arguments
 * from a (hostile or broken) page, into the dispatcher over the real backend and a worker engine. Every
 * reply is a value: a result, or an error of a kind the editor reports (never an internal one), and the
 * engine still runs a graph afterwards.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createIpcDispatcher } from '../electron/desktop/ipc-dispatch.ts';
import { AppBackend } from '../electron/engine/app-backend.ts';
import type { AppMethod } from '../electron/engine/app-api.ts';
import { EXAMPLES_DIR } from '../electron/engine/paths.ts';
import { WorkerEngine } from '../electron/engine/worker/worker-client.ts';
import { createRng } from '../scripts/graph-fuzz/generate.ts';
import { tempDir, testCacheDir } from './helpers/engine.ts';

const outDir = tempDir('fs-ipc-fuzz-out-');
const engine = new WorkerEngine({ cacheDir: testCacheDir(), outDir, providers: ['cpu'] });
const backend = new AppBackend({ engine, outDir, dataDir: tempDir('fs-ipc-fuzz-data-') });
afterAll(() => engine.close());

/** Every method with the number of arguments it takes, so most junk gets past the count to the values. */
const ARITY: Record<AppMethod, number> = {
  listNodeTypes: 0, listModels: 0, validate: 1, checkFiles: 1, run: 1, cancel: 1, readOutput: 3, freeMemory: 1, memoryStatus: 0, systemInfo: 0,
  listPresets: 0, readPreset: 1, writePreset: 2, deletePreset: 1, readAutosave: 0, writeAutosave: 1, openGraphFile: 1,
  saveGraphFile: 2, listRecentFiles: 0, readFile: 1, modelHashes: 1, listFiles: 1, takeOpenRequests: 0, restartEngine: 0,
};
const METHODS = Object.keys(ARITY) as AppMethod[];
/** The error kinds a transport answers with 4xx: the request was wrong, not the app. */
const REQUEST_ERRORS = ['BadRequestError', 'NotFoundError', 'FileAccessError', 'GraphValidationError'];

describe('IPC junk (fuzz, fixed seed)', () => {
  it('answers 300 junk calls with results or request errors, and still runs a graph', async () => {
    const example = JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json'), 'utf8'));
    const rng = createRng(31);
    const junk: unknown[] = [null, undefined, 1, -1, NaN, 'x', '', [], {}, true, 1e300, '../../etc/passwd', '/etc/passwd', 'a'.repeat(3000), ['a'], '%00', { nodes: 5 }, { graph: 3 }, { kind: 'image' }, { models: 'yes' }, example, { graph: example, runId: 7 }];
    const dispatcher = createIpcDispatcher(backend);
    const kinds = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const method = rng.chance(0.1) ? rng.pick(['subscribe', '__proto__', 'constructor', 'close', 42, null]) : rng.pick(METHODS);
      const count = typeof method === 'string' && method in ARITY && rng.chance(0.8) ? ARITY[method as AppMethod] : rng.pick([0, 1, 2, 3]);
      const args = rng.chance(0.05) ? rng.pick([null, 'x', { 0: 1 }]) : Array.from({ length: count }, () => rng.pick(junk));
      const reply = await dispatcher.dispatch(1, method, args as unknown[]);
      const kind = reply.ok ? 'ok' : reply.error.name;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      if (!reply.ok) {
        expect(REQUEST_ERRORS, `${String(method)}(${JSON.stringify(args)?.slice(0, 120)}): ${reply.error.name}: ${reply.error.message}`).toContain(reply.error.name);
        expect(reply.error.message).toMatch(/\w/);
      }
    }
    // Arguments nested past any stack are refused before they reach the worker.
    let deep: unknown = [];
    for (let i = 0; i < 5000; i++) deep = [deep];
    const refused = await dispatcher.dispatch(1, 'validate', [{ format: 'flowstudio-graph', schemaVersion: 1, nodes: [], subgraphs: { a: deep } }]);
    expect(refused).toMatchObject({ ok: false, error: { name: 'BadRequestError', message: expect.stringMatching(/nested more than/) } });
    // Junk reaches the backend's own checks, not only the argument count.
    expect(kinds.size, JSON.stringify([...kinds])).toBeGreaterThanOrEqual(3);
    expect(kinds.get('ok') ?? 0, JSON.stringify([...kinds])).toBeGreaterThan(30);
    expect(await dispatcher.dispatch(1, 'run', [{ graph: example }])).toMatchObject({ ok: true, value: { status: 'finished' } });
  });
});
