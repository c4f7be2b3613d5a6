/**
 * The engine in a worker (how the app runs it): the same API, events across the boundary, cancel, and a
 * worker that dies. Each test runs with the worker as a thread and as a process of its own; the process
 * is what the app uses, because it survives what a thread cannot: a native crash.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../electron/engine/events.ts';
import type { EngineCrash } from '../electron/engine/api.ts';
import { readGraphFile } from '../electron/engine/graph/io.ts';
import { EXAMPLES_DIR } from '../electron/engine/paths.ts';
import { Engine } from '../electron/engine/engine.ts';
import type { EngineHost, EngineHostFactory } from '../electron/engine/worker/engine-host.ts';
import { describeExit } from '../electron/engine/worker/engine-host.ts';
import { createProcessHost, processHost } from '../electron/engine/worker/process-host.ts';
import { threadHost } from '../electron/engine/worker/thread-host.ts';
import { WorkerEngine } from '../electron/engine/worker/worker-client.ts';
import { RunsInFlight } from '../electron/engine/worker/runs-in-flight.ts';
import { writeNpy } from '../nodes/core/io/npy.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { createRng } from '../scripts/graph-fuzz/generate.ts';
import { graph, tempDir, testCacheDir } from './helpers/engine.ts';

const HOSTS = { thread: threadHost, process: processHost } as const;
type HostName = keyof typeof HOSTS;

function newEngine(host: HostName | EngineHostFactory, prefix = 'fs-worker-'): WorkerEngine {
  return new WorkerEngine({ cacheDir: testCacheDir(), outDir: tempDir(prefix), providers: ['cpu'] }, { host: typeof host === 'string' ? HOSTS[host] : host });
}

/**
 * Ends the worker behind the client's back, as a crash does: a process gets SIGSEGV; a thread is stopped
 * (a thread cannot be crashed without taking this process along, which is why the app uses a process).
 */
async function crash(own: WorkerEngine, signal: NodeJS.Signals = 'SIGSEGV'): Promise<void> {
  const host = (own as unknown as { host: EngineHost }).host;
  if (host.label === 'worker') return host.terminate(); // not through close(), so unexpected
  const pid = own.pid;
  if (pid === undefined) throw new Error('no engine process to crash');
  process.kill(pid, signal);
  await until(() => !alive(pid));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A sampler long enough to be interrupted: 1000 Euler steps over a batch of 16. */
const longRun = (steps = 1000) =>
  graph(
    [
      { id: 'model', type: 'LoadModel', params: { model: 'embedded:gaussian-vp-continuous' } },
      { id: 'latent', type: 'EmptyLatent', params: { batch: 16 } },
      { id: 'sampler', type: 'Sampler', params: { steps, seed: 5, solver: 'euler' } },
    ],
    ['model.model->sampler.model', 'latent.latent->sampler.latent'],
  );

const example = () => readGraphFile(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json'));

/** A promise for the first event that matches. */
function eventOf(own: WorkerEngine, match: (e: EngineEvent) => boolean): Promise<EngineEvent> {
  return new Promise((resolve) => {
    const off = own.subscribe((e) => {
      if (match(e)) {
        off();
        resolve(e);
      }
    });
  });
}

describe.each(['thread', 'process'] as const)('WorkerEngine with the worker as a %s', (hostName) => {
  const engine = newEngine(hostName);
  afterAll(() => engine.close());
  const exitWords = hostName === 'thread' ? 'engine worker exited (code 0)' : 'engine process crashed (SIGSEGV)';

  it('runs the example and streams typed events, previews as Tensors; outputs read back as the same numbers', async () => {
    const events: EngineEvent[] = [];
    const off = engine.subscribe((e) => events.push(e));
    const summary = await engine.run({ graph: example() });
    off();
    expect(summary.status).toBe('finished');
    expect(events[0].type).toBe('run-started');
    expect(events.at(-1)?.type).toBe('run-finished');
    expect(events.every((e) => e.runId === summary.runId)).toBe(true);
    expect(events.some((e) => e.type === 'node-progress' && e.nodeId === 'sampler' && e.step === e.total)).toBe(true);
    const preview = events.find((e) => e.type === 'node-preview');
    expect(preview && preview.type === 'node-preview' && preview.preview instanceof Tensor).toBe(true);
    // The same graph in this thread gives the same latent, bit for bit, after the trip across.
    const local = new Engine({ cacheDir: testCacheDir(), outDir: tempDir('fs-worker-local-'), providers: ['cpu'] });
    try {
      const mine = await local.run({ graph: example() });
      const [nodeId, ports] = Object.entries(summary.outputs).find(([, p]) => 'latent' in p)!;
      void ports;
      const there = await engine.readOutput(summary.runId, nodeId, 'latent');
      const here = await local.readOutput(mine.runId, nodeId, 'latent');
      expect(there && 'data' in there ? there.data : null).toBeInstanceOf(Float32Array);
      expect(there).toEqual(here);
    } finally {
      await local.dispose();
    }
  });

  it('lists node types and validates across the boundary; errors keep their name and structured errors', async () => {
    const types = await engine.listNodeTypes();
    expect(types.map((t) => t.type)).toContain('Sampler');
    const errors = await engine.validate(graph([{ id: 'x', type: 'NoSuchNode' }], []));
    expect(errors[0]).toMatchObject({ code: 'unknown_node_type', nodeId: 'x' });
    await expect(engine.readOutput('', 'n', 'p')).rejects.toMatchObject({ name: 'BadRequestError', message: expect.stringContaining('runId') });
  });

  it('cancels a running sampler by run id', async () => {
    const off = engine.subscribe((e) => {
      if (e.type === 'node-progress' && e.step === 5) void engine.cancel(`w-cancel-${hostName}`);
    });
    const summary = await engine.run({ graph: longRun(500), runId: `w-cancel-${hostName}` });
    off();
    expect(summary.error?.message ?? '').toBe('');
    expect(summary.status).toBe('cancelled');
    expect(summary.nodes.sampler.state).toBe('cancelled');
  });

  it('refuses arguments that cannot cross (a function in the graph) and keeps no trace of the call', async () => {
    const doc = { ...example(), metadata: { ...example().metadata, name: (() => 'x') as unknown as string } };
    await expect(engine.run({ graph: doc, runId: `uncloneable-${hostName}` })).rejects.toThrow(/clone|serializ/i);
    const calls = engine as unknown as { pending: Map<number, unknown>; runs: RunsInFlight };
    expect(calls.pending.size).toBe(0);
    expect(calls.runs.ids()).toEqual([]);
    expect((await engine.run({ graph: example() })).status).toBe('finished');
  });

  it('says where it runs', async () => {
    const info = await engine.systemInfo();
    if (hostName === 'thread') expect(info.engine).toEqual({ runsIn: 'thread', pid: process.pid, crashes: 0 });
    else {
      expect(info.engine.runsIn).toBe('process');
      expect(info.engine.pid).toBe(engine.pid);
      expect(info.engine.pid).not.toBe(process.pid);
    }
  });

  it('closing rejects the calls still in flight with "the engine was closed", and later calls at once', async () => {
    const own = newEngine(hostName, 'fs-worker-close-');
    await own.listNodeTypes();
    const running = own.run({ graph: longRun() });
    await eventOf(own, (e) => e.type === 'node-progress');
    await own.close();
    await expect(running).rejects.toThrow('the engine was closed');
    await expect(own.listNodeTypes()).rejects.toThrow(`engine ${hostName === 'thread' ? 'worker' : 'process'} has exited`);
  });

  it('a worker that dies mid-run ends the run as failed at the running node, with its events; the next call runs on a fresh one', async () => {
    const crashes: EngineCrash[] = [];
    const own = new WorkerEngine({ cacheDir: testCacheDir(), outDir: tempDir('fs-worker-crash-'), providers: ['cpu'] }, { host: HOSTS[hostName], onCrash: (c) => crashes.push(c) });
    try {
      const events: EngineEvent[] = [];
      own.subscribe((e) => events.push(e));
      await own.listNodeTypes();
      const running = own.run({ graph: longRun() });
      await eventOf(own, (e) => e.type === 'node-progress' && e.nodeId === 'sampler');
      const otherCall = own.listModels().then(() => null, (e: Error) => e); // a call that is not a run is rejected instead
      await crash(own);
      const summary = await running;
      expect(summary.status).toBe('failed');
      expect(summary.error).toMatchObject({ nodeId: 'sampler', nodeType: 'Sampler' });
      expect(summary.error?.message).toContain(`the ${exitWords} while this node ran`);
      expect(summary.error?.message).toContain('the next run starts a fresh engine');
      expect(summary.nodes.sampler.state).toBe('failed');
      expect(summary.nodes.sampler.ms).toBeGreaterThan(0);
      expect(['done', 'cached']).toContain(summary.nodes.model.state);
      // The editor hears of it as of any failed node: node-failed, then run-failed, each once.
      const ofRun = events.filter((e) => e.runId === summary.runId);
      expect(ofRun.filter((e) => e.type === 'node-failed')).toEqual([{ type: 'node-failed', runId: summary.runId, nodeId: 'sampler', nodeType: 'Sampler', message: summary.error!.message }]);
      expect(ofRun.at(-1)).toMatchObject({ type: 'run-failed', nodeId: 'sampler', message: summary.error!.message });
      expect(ofRun.filter((e) => e.type === 'run-started')).toHaveLength(1);
      expect((await otherCall)?.message).toBe(`${exitWords}; the next request starts a fresh engine`);
      // The app is told, for its crash log, and Engine ▸ System shows it.
      expect(crashes).toEqual([{ at: expect.any(String), cause: `the ${exitWords}`, runs: [{ runId: summary.runId, nodeId: 'sampler', nodeType: 'Sampler' }] }]);
      expect((await own.systemInfo()).engine).toMatchObject({ crashes: 1, lastCrash: crashes[0] });

      // A fresh engine: it runs, and events still reach the listeners subscribed before the crash.
      events.length = 0;
      const next = await own.run({ graph: example() });
      expect(next.status).toBe('finished');
      expect(events.some((e) => e.type === 'run-finished' && e.runId === next.runId)).toBe(true);

      // A worker that keeps dying is not started over and over: the third death within 10 s is the last.
      await crash(own);
      await own.listNodeTypes();
      const inFlight = own.run({ graph: longRun() });
      await eventOf(own, (e) => e.type === 'node-progress');
      await crash(own);
      expect((await inFlight).error?.message).toContain(`the ${exitWords} while this node ran`);
      await expect(own.listNodeTypes()).rejects.toThrow(`has exited and could not be started again`);
    } finally {
      await own.close();
    }
  });

  it('restart() stops a run (cancelled, at its node) and starts a fresh engine; restarts are not crashes', async () => {
    const own = newEngine(hostName, 'fs-worker-restart-');
    try {
      await own.listNodeTypes();
      const before = own.pid;
      const events: EngineEvent[] = [];
      own.subscribe((e) => events.push(e));
      const running = own.run({ graph: longRun() });
      await eventOf(own, (e) => e.type === 'node-progress' && e.nodeId === 'sampler');
      const [stopped, summary] = await Promise.all([own.restart(), running]);
      expect(stopped).toBe(1);
      expect(summary.status).toBe('cancelled');
      expect(summary.error).toBeUndefined();
      expect(summary.nodes.sampler.state).toBe('cancelled');
      expect(events.filter((e) => e.runId === summary.runId).at(-1)).toMatchObject({ type: 'run-cancelled', nodeId: 'sampler' });
      if (hostName === 'process') {
        expect(own.pid).not.toBe(before);
        expect(alive(before!)).toBe(false);
      }
      // More restarts than the crash rule allows deaths, and two asked for at once are one.
      for (let i = 0; i < 4; i++) expect(await own.restart()).toBe(0);
      const pids = new Set<number | undefined>();
      await Promise.all([own.restart(), own.restart()].map((p) => p.then(() => pids.add(own.pid))));
      expect(pids.size).toBe(1);
      expect((await own.run({ graph: example() })).status).toBe('finished');
    } finally {
      await own.close();
    }
  });

  it('a call waiting for the worker to start goes to the fresh one when a restart comes first', async () => {
    const own = newEngine(hostName, 'fs-worker-early-restart-');
    try {
      const waiting = own.listNodeTypes(); // the worker is still starting
      const running = own.run({ graph: example() });
      await own.restart();
      expect((await waiting).length).toBeGreaterThan(0);
      expect((await running).status).toBe('finished');
    } finally {
      await own.close();
    }
  });

  it('a death before the run reached a node still ends that run, as failed with no node', async () => {
    const own = newEngine(hostName, 'fs-worker-early-');
    try {
      await own.listNodeTypes();
      const events: EngineEvent[] = [];
      own.subscribe((e) => events.push(e));
      const running = own.run({ graph: longRun(), runId: `early-${hostName}` });
      await crash(own); // before its first event, most likely; either way it must end as failed
      const summary = await running;
      expect(summary).toMatchObject({ runId: `early-${hostName}`, status: 'failed' });
      expect(summary.error?.message).toMatch(/the engine (worker|process) .* (while this node ran|during the run)/);
      expect(events.filter((e) => e.type === 'run-started')).toHaveLength(1);
      expect(events.at(-1)).toMatchObject({ type: 'run-failed', runId: `early-${hostName}` });
    } finally {
      await own.close();
    }
  });
});

describe('WorkerEngine in a process of its own', () => {
  it('names the signal: SIGKILL (how the out-of-memory killer ends a process) and SIGABRT read differently', async () => {
    expect(describeExit({ code: null, signal: 'SIGSEGV' })).toBe('crashed (SIGSEGV)');
    expect(describeExit({ code: null, signal: 'SIGABRT' })).toBe('crashed (SIGABRT)');
    expect(describeExit({ code: null, signal: 'SIGKILL' })).toMatch(/^was killed \(SIGKILL; .*memory/);
    expect(describeExit({ code: 3 })).toBe('exited (code 3)');
    // Windows: an access violation's NTSTATUS, as Node reports it (unsigned) and as a signed 32-bit code.
    expect(describeExit({ code: 3221225477 })).toBe('crashed (access violation, 0xC0000005)');
    expect(describeExit({ code: -1073740791 })).toBe('crashed (abort or stack buffer overrun, 0xC0000409)');
    const own = newEngine('process', 'fs-worker-kill-');
    try {
      await own.listNodeTypes();
      const running = own.run({ graph: longRun() });
      await eventOf(own, (e) => e.type === 'node-progress');
      await crash(own, 'SIGKILL');
      expect((await running).error?.message).toContain('the engine process was killed (SIGKILL; the system may have run out of memory) while this node ran');
      expect((await own.run({ graph: example() })).status).toBe('finished');
    } finally {
      await own.close();
    }
  });

  it('an exception nothing caught in the engine process is reported with its message', async () => {
    const fault = fileURLToPath(new URL('./helpers/engine-fault.mjs', import.meta.url));
    const own = newEngine(createProcessHost({ execArgv: ['--import', fault] }), 'fs-worker-fault-');
    try {
      await own.listNodeTypes();
      await expect(own.listModels()).rejects.toThrow('engine process exited (code 70) after an error nothing caught (injected fault); the next request starts a fresh engine');
      expect((await own.listNodeTypes()).length).toBeGreaterThan(0);
    } finally {
      await own.close();
    }
  });

  it('a worker that dies while starting is started again, up to the crash rule', async () => {
    let starts = 0;
    const killedTwice: EngineHostFactory = (handlers) => {
      const host = processHost(handlers);
      if (++starts <= 2) process.kill(host.pid!, 'SIGKILL');
      return host;
    };
    const own = newEngine(killedTwice, 'fs-worker-start-');
    try {
      expect((await own.listNodeTypes()).length).toBeGreaterThan(0);
      expect(starts).toBe(3);
    } finally {
      await own.close();
    }
    let tries = 0;
    const alwaysKilled: EngineHostFactory = (handlers) => {
      const host = processHost(handlers);
      tries++;
      process.kill(host.pid!, 'SIGKILL');
      return host;
    };
    const broken = newEngine(alwaysKilled, 'fs-worker-never-');
    try {
      await expect(broken.listNodeTypes()).rejects.toThrow(/^engine process was killed \(SIGKILL; .*\) while starting$/);
      expect(tries).toBe(3);
    } finally {
      await broken.close();
    }
  });

  it('close() ends the process; Ctrl+C (SIGINT, which a terminal sends the whole process group) does not', async () => {
    const own = newEngine('process', 'fs-worker-end-');
    await own.listNodeTypes();
    const pid = own.pid!;
    process.kill(pid, 'SIGINT');
    expect((await own.listNodeTypes()).length).toBeGreaterThan(0);
    expect(own.pid).toBe(pid);
    expect(alive(pid)).toBe(true);
    await own.close();
    expect(alive(pid)).toBe(false);
  });

  it('does not outlive its app: an app killed outright mid-run takes its engine process with it at once', async () => {
    const client = fileURLToPath(new URL('../electron/engine/worker/worker-client.ts', import.meta.url));
    const helpers = fileURLToPath(new URL('./helpers/engine.ts', import.meta.url));
    // A run of many seconds (1000 steps over a batch of 1024): the engine must go when its app does,
    // not when its work is done.
    const script = `
      const { WorkerEngine } = await import(${JSON.stringify(client)});
      const { graph } = await import(${JSON.stringify(helpers)});
      const engine = new WorkerEngine({ outDir: ${JSON.stringify(tempDir('fs-worker-orphan-'))}, cacheDir: ${JSON.stringify(testCacheDir())}, providers: ['cpu'] });
      const off = engine.subscribe((e) => {
        if (e.type === 'node-progress' && e.nodeId === 'sampler') {
          off();
          process.stdout.write(String(engine.pid) + '\\n');
        }
      });
      void engine.run({ graph: graph(
        [
          { id: 'model', type: 'LoadModel', params: { model: 'embedded:gaussian-vp-continuous' } },
          { id: 'latent', type: 'EmptyLatent', params: { batch: 1024 } },
          { id: 'sampler', type: 'Sampler', params: { steps: 1000, seed: 5, solver: 'euler' } },
        ],
        ['model.model->sampler.model', 'latent.latent->sampler.latent'],
      ) });`;
    const app = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      app.stdout!.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      app.once('exit', (code) => reject(new Error(`the app exited early (code ${code})`)));
    });
    expect(alive(pid)).toBe(true);
    app.kill('SIGKILL');
    await until(() => !alive(pid), 5000);
    expect(alive(pid)).toBe(false);
  });
});

describe('allowReadFolder (ReadFolderGrant)', () => {
  /** A .npy in a folder that is none of the engine's roots, and a graph that loads it. */
  function latentElsewhere() {
    const dir = tempDir('fs-grant-');
    const file = path.join(dir, 'x.npy');
    fs.writeFileSync(file, writeNpy(Tensor.full([1, 3, 4, 4], 0.5)));
    const doc = graph([{ id: 'load', type: 'LoadLatent', params: { path: file } }], []);
    return { dir, file, doc };
  }

  it('lets runs read a folder granted at run time, in process', async () => {
    const { dir, doc } = latentElsewhere();
    const own = new Engine({ cacheDir: testCacheDir(), outDir: tempDir('fs-grant-out-'), providers: ['cpu'] });
    try {
      const before = await own.run({ graph: doc });
      expect(before.status).toBe('failed');
      expect(before.error?.message).toMatch(/outside|allowed|not/i);
      await own.allowReadFolder(dir);
      await expect(own.run({ graph: doc, force: true })).resolves.toMatchObject({ status: 'finished' });
    } finally {
      await own.dispose();
    }
  });

  it.each(['thread', 'process'] as const)('in a worker %s, and still after the worker died and was started again', async (hostName) => {
    const { dir, doc } = latentElsewhere();
    const own = newEngine(hostName, 'fs-grant-worker-');
    try {
      expect((await own.run({ graph: doc })).status).toBe('failed');
      await own.allowReadFolder(dir);
      expect((await own.run({ graph: doc, force: true })).status).toBe('finished');
      await crash(own);
      expect((await own.run({ graph: doc, force: true })).status).toBe('finished');
    } finally {
      await own.close();
    }
  });
});

describe('a storm of runs, cancels, restarts and crashes (fixed seed)', () => {
  it('settles every run call with a summary whose events are one run-started, then one ending that matches it', async () => {
    const rng = createRng(11);
    const own = newEngine('process', 'fs-worker-storm-');
    const events = new Map<string, EngineEvent[]>();
    own.subscribe((e) => events.set(e.runId, [...(events.get(e.runId) ?? []), e]));
    const ending = { finished: 'run-finished', cancelled: 'run-cancelled', failed: 'run-failed' } as const;
    const problems: string[] = [];
    let n = 0;
    try {
      for (let round = 0; round < 12; round++) {
        const calls: Promise<unknown>[] = [];
        const ids: string[] = [];
        for (let k = 0; k < 1 + Math.floor(rng.next() * 3); k++) {
          const runId = `storm-${n++}`;
          ids.push(runId);
          const steps = 10 + Math.floor(rng.next() * 400);
          calls.push(
            own.run({ graph: longRun(steps), runId }).then(
              (s) => {
                const ev = events.get(runId) ?? [];
                const ends = ev.filter((e) => e.type === 'run-finished' || e.type === 'run-cancelled' || e.type === 'run-failed');
                const okOrder = ev.filter((e) => e.type === 'run-started').length === 1 && ends.length === 1 && ev.at(-1) === ends[0];
                if (s.status === 'invalid' || !okOrder || ends[0].type !== ending[s.status]) problems.push(`${runId} (${s.status}): ${ev.map((e) => e.type).join(', ')}`);
              },
              (e: Error) => problems.push(`${runId}: rejected: ${e.message}`),
            ),
          );
        }
        await new Promise((r) => setTimeout(r, rng.next() * 150));
        const act = rng.next();
        if (act < 0.3) calls.push(own.restart());
        else if (act < 0.5 && own.pid) process.kill(own.pid, rng.next() < 0.5 ? 'SIGSEGV' : 'SIGKILL');
        else if (act < 0.75) calls.push(own.cancel(ids[0]));
        await Promise.all(calls);
        // Three deaths within 10 s stop the engine; a restart brings it back, as the user would.
        if (!(await own.listNodeTypes().then(() => true, () => false))) await own.restart();
      }
    } finally {
      await own.close();
    }
    expect(problems).toEqual([]);
    expect(n).toBeGreaterThan(12);
  });
});

describe('RunsInFlight (how a dying worker\'s runs are ended)', () => {
  it('fails the nodes each run had running, keeps what finished or came from the cache, and announces a run not yet started', () => {
    const runs = new RunsInFlight();
    runs.begin('a');
    runs.begin('b');
    runs.begin('c');
    const seen: EngineEvent[] = [
      { type: 'run-started', runId: 'a', at: 0, order: ['load', 'latent', 'sampler', 'save'] },
      { type: 'node-cached', runId: 'a', nodeId: 'load', nodeType: 'LoadModel' },
      { type: 'node-started', runId: 'a', nodeId: 'latent', nodeType: 'EmptyLatent' },
      { type: 'node-finished', runId: 'a', nodeId: 'latent', nodeType: 'EmptyLatent', ms: 3 },
      { type: 'node-started', runId: 'a', nodeId: 'sampler', nodeType: 'Sampler' },
      { type: 'run-started', runId: 'b', at: 0, order: ['x'] },
      { type: 'node-started', runId: 'b', nodeId: 'x', nodeType: 'LoadImage' },
      { type: 'node-failed', runId: 'b', nodeId: 'x', nodeType: 'LoadImage', message: 'no such file' },
      { type: 'node-started', runId: 'elsewhere', nodeId: 'y', nodeType: 'Sampler' },
    ];
    for (const e of seen) runs.observe(e);
    runs.end('b'); // its reply came back
    expect(runs.ids()).toEqual(['a', 'c']);

    const a = runs.fail('a', 'the engine process crashed (SIGSEGV)', '/out');
    expect(a.summary).toMatchObject({ runId: 'a', status: 'failed', outDir: '/out', outputs: {}, error: { nodeId: 'sampler', nodeType: 'Sampler' } });
    expect(a.summary.nodes).toMatchObject({ load: { state: 'cached' }, latent: { state: 'done', ms: 3 }, sampler: { state: 'failed' }, save: { state: 'skipped', ms: 0 } });
    expect(a.summary.error?.message).toBe('the engine process crashed (SIGSEGV) while this node ran; loaded models and cached outputs are gone, and the next run starts a fresh engine');
    expect(a.events.map((e) => e.type)).toEqual(['node-failed', 'run-failed']);

    const cancelled = new RunsInFlight();
    cancelled.begin('r');
    cancelled.observe({ type: 'run-started', runId: 'r', at: 0, order: ['sampler'] });
    cancelled.observe({ type: 'node-started', runId: 'r', nodeId: 'sampler', nodeType: 'Sampler' });
    const r = cancelled.cancel('r', '/out');
    expect(r.summary).toMatchObject({ status: 'cancelled', nodes: { sampler: { state: 'cancelled' } } });
    expect(r.summary.error).toBeUndefined();
    expect(r.events).toEqual([{ type: 'run-cancelled', runId: 'r', ms: expect.any(Number), nodeId: 'sampler' }]);

    // A run whose ending came before the worker died keeps that ending, and gets no second one.
    const ended = new RunsInFlight();
    for (const id of ['done', 'broke']) {
      ended.begin(id);
      ended.observe({ type: 'run-started', runId: id, at: 0, order: ['load', 'sampler'] });
      ended.observe({ type: 'node-started', runId: id, nodeId: 'load', nodeType: 'LoadModel' });
    }
    ended.observe({ type: 'node-finished', runId: 'done', nodeId: 'load', nodeType: 'LoadModel', ms: 4 });
    ended.observe({ type: 'run-finished', runId: 'done', ms: 9 });
    ended.observe({ type: 'node-failed', runId: 'broke', nodeId: 'load', nodeType: 'LoadModel', message: 'no such model' });
    ended.observe({ type: 'run-failed', runId: 'broke', ms: 7, nodeId: 'load', message: 'no such model' });
    expect(ended.fail('done', 'the engine process crashed (SIGSEGV)', '/out')).toEqual({
      events: [],
      summary: { runId: 'done', status: 'finished', ms: 9, outDir: '/out', nodes: { load: { state: 'done', ms: 4 }, sampler: { state: 'skipped', ms: 0 } }, outputs: {} },
    });
    expect(ended.cancel('broke', '/out')).toMatchObject({ events: [], summary: { status: 'failed', ms: 7, error: { nodeId: 'load', nodeType: 'LoadModel', message: 'no such model' } } });

    const c = runs.fail('c', 'the engine process crashed (SIGSEGV)', '/out');
    expect(c.summary.error).toEqual({ message: 'the engine process crashed (SIGSEGV) during the run; loaded models and cached outputs are gone, and the next run starts a fresh engine' });
    expect(c.events.map((e) => e.type)).toEqual(['run-started', 'run-failed']);
    expect(runs.ids()).toEqual([]);
  });
});
