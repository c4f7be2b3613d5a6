/**
 * `flowstudio serve`: the editor in a browser. The engine runs in a process of its own (a sampling run never
 * blocks HTTP, and a native crash does not end the server), behind the AppBackend, behind the loopback-only
 * server. Runs until SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AppBackend } from '../engine/app-backend.ts';
import { APP_ROOT } from '../engine/paths.ts';
import { WorkerEngine } from '../engine/worker/worker-client.ts';
import { processHost } from '../engine/worker/process-host.ts';
import { threadHost } from '../engine/worker/thread-host.ts';
import { startServer } from '../server/server.ts';
import { parseByteSize, parseCount, UsageError } from './args.ts';
import { defaultDataDir } from '../engine/app/data-dir.ts';
import { CRASH_LOG_NAME, CrashLog } from '../engine/app/crash-log.ts';

export const DEFAULT_STATIC_DIR = path.join(APP_ROOT, 'renderer', 'dist');

export const SERVE_USAGE = `  serve [graph.flowstudio] [--port N] [--out dir] [--open] [--root dir ...] [--provider name ...] [--static dir]
        [--max-models N] [--model-memory SIZE] [--cache-memory SIZE] [--engine process|thread]
      Serve the editor on http://127.0.0.1 (port 0 or absent: a free one) until Ctrl+C. A graph file named
      is what the editor opens (its folder may then be saved to).
      --root adds folders graph files may be opened from and saved to.
      --max-models and --model-memory bound the models kept loaded (default 16, half the memory; the least
      recently run are unloaded past them), --cache-memory the cached node outputs (default 2GiB, or an eighth of the memory if less).
      --engine process (default) runs the engine in a process of its own: a crash in native code (ONNX
      Runtime, a GPU driver) fails the run and restarts the engine, and the editor keeps going. --engine
      thread runs it in a thread of this process: it starts faster, but such a crash ends everything.`;

/** The flags the editor takes wherever it runs: `flowstudio serve`, and the desktop app (desktop-args.ts). */
export const EDITOR_FLAGS = {
  out: { type: 'string' },
  root: { type: 'string', multiple: true },
  provider: { type: 'string', multiple: true },
  static: { type: 'string' },
  'max-models': { type: 'string' },
  'model-memory': { type: 'string' },
  'cache-memory': { type: 'string' },
  engine: { type: 'string' },
} as const;

export type EngineHostKind = 'process' | 'thread';

/** --engine: where the engine runs. A process (the default) survives a native crash; a thread starts faster. */
export function parseEngineHostKind(raw: string | undefined): EngineHostKind {
  if (raw === undefined || raw === 'process') return 'process';
  if (raw === 'thread') return 'thread';
  throw new UsageError(`--engine expects "process" or "thread", got "${raw}"`);
}

export interface ServeIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** `stop` ends the server (tests); otherwise SIGINT or SIGTERM does. Resolves with the exit code. */
export async function serveCommand(args: string[], io: ServeIO, stop?: AbortSignal): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: { ...EDITOR_FLAGS, port: { type: 'string' }, open: { type: 'boolean' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const port = parsePort(values.port as string | undefined);
  const outDir = path.resolve((values.out as string | undefined) ?? 'out');
  const staticDir = path.resolve((values.static as string | undefined) ?? DEFAULT_STATIC_DIR);
  const roots = ((values.root as string[] | undefined) ?? []).map((r) => path.resolve(r));
  for (const r of roots) if (!fs.existsSync(r)) throw new UsageError(`--root folder not found: ${r}`);
  const providers = (values.provider as string[] | undefined)?.flatMap((p) => p.split(','));
  const memory = memoryOptions(values);
  const engineHost = parseEngineHostKind(values.engine as string | undefined);

  // The engine may read whatever the editor can list and pick: the data dir (presets, saved graphs) and the roots.
  const dataDir = defaultDataDir();
  const engine = new WorkerEngine(
    { outDir, providers, readRoots: [dataDir, ...roots], ...memory },
    {
      host: engineHost === 'thread' ? threadHost : processHost,
      onCrash: new CrashLog(path.join(dataDir, CRASH_LOG_NAME)).reporter((line) => io.stderr.write(`${line}\n`)),
    },
  );
  let backend: AppBackend;
  let server;
  try {
    backend = new AppBackend({ engine, outDir, dataDir, graphRoots: roots });
    for (const file of positionals) {
      try {
        backend.requestOpen(file);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    server = await startServer({ backend, port, staticDir });
  } catch (e) {
    await engine.close();
    throw e;
  }

  if (!fs.existsSync(path.join(staticDir, 'index.html'))) {
    io.stderr.write(`flowstudio: warning: the editor is not built (no ${path.join(staticDir, 'index.html')}); \`npm start\` builds it.\n`);
  }
  io.stdout.write(`FlowStudio is running at ${server.url}\n`);
  io.stderr.write(`Outputs go to ${outDir}; presets and autosave to ${backend.dataDir}. Press Ctrl+C to stop.\n`);
  if (values.open) openBrowser(server.url, io);

  await new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (stop?.aborted) done();
    stop?.addEventListener('abort', done, { once: true });
  });
  await server.close();
  await engine.close();
  return 0;
}

/** The engine's memory bounds from --max-models, --model-memory and --cache-memory (absent: its defaults). */
export function memoryOptions(values: Record<string, unknown>): { maxLoadedModels?: number; maxLoadedModelBytes?: number; cacheMaxBytes?: number } {
  const raw = (flag: string) => values[flag] as string | undefined;
  return {
    ...(raw('max-models') !== undefined ? { maxLoadedModels: parseCount('--max-models', raw('max-models')!) } : {}),
    ...(raw('model-memory') !== undefined ? { maxLoadedModelBytes: parseByteSize('--model-memory', raw('model-memory')!) } : {}),
    ...(raw('cache-memory') !== undefined ? { cacheMaxBytes: parseByteSize('--cache-memory', raw('cache-memory')!) } : {}),
  };
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) throw new UsageError(`--port expects an integer from 0 to 65535, got "${raw}"`);
  return port;
}

function openBrowser(url: string, io: ServeIO): void {
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(command, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', () => io.stderr.write(`flowstudio: could not open a browser (${command}); open ${url} yourself.\n`));
    child.unref();
  } catch {
    io.stderr.write(`flowstudio: could not open a browser; open ${url} yourself.\n`);
  }
}
