/**
 * ONNX Runtime sessions, opened once per (model file, provider list) and shared. Each session runs one
 * call at a time (DirectML requires it; elsewhere it keeps memory predictable).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Tensor } from '../../../nodes/core/tensor.ts';
import type { ModelFeed, ModelSession, TensorInfo } from '../../../nodes/core/values.ts';
import { fromOrtTensor, toOrtTensor, validateFeeds } from './feeds.ts';
import { createSessionWithFallback, resolveProviders, SessionCreateError } from './providers.ts';
import { abortError } from '../abort.ts';


function tensorInfos(meta: readonly ort.InferenceSession.ValueMetadata[]): TensorInfo[] {
  return meta.map((m) => ({
    name: m.name,
    type: m.isTensor ? m.type : 'non-tensor',
    shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' && d < 0 ? -1 : d)) : [],
  }));
}

/** A ModelSession over one ORT InferenceSession. */
export class OrtModelSession implements ModelSession {
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  /** Calls into ORT and the time spent inside `InferenceSession.run` (benchmarks, call-count tests). */
  readonly stats = { runs: 0, runMs: 0 };
  private released = false;
  /** Runs accepted and not yet settled, the last of them, and who waits for them all to settle (release). */
  private pending = 0;
  private tail?: Promise<unknown>;
  private drained?: () => void;

  constructor(
    readonly file: string,
    readonly provider: string,
    private readonly session: ort.InferenceSession,
  ) {
    this.inputs = tensorInfos(session.inputMetadata);
    this.outputs = tensorInfos(session.outputMetadata);
  }

  run(feeds: Record<string, ModelFeed>, signal?: AbortSignal): Promise<Record<string, Tensor>> {
    if (signal?.aborted) return Promise.reject(abortError());
    if (this.released) return Promise.reject(new Error(`model session for ${this.file} was released`));
    // Validate and convert before queueing, so bad input fails at once with a clear message.
    let ortFeeds: Record<string, ort.Tensor>;
    try {
      validateFeeds(feeds, this.inputs, this.file);
      ortFeeds = {};
      for (const info of this.inputs) ortFeeds[info.name] = toOrtTensor(feeds[info.name], info, info.name, this.file);
    } catch (e) {
      return Promise.reject(e);
    }
    // One run at a time, so each one's time is its own. The common case, a sampler's calls one after
    // another, finds the session idle and starts at once (a promise hop less per model call).
    this.pending++;
    const start = () => this.exec(ortFeeds, signal);
    const result = this.tail === undefined ? start() : this.tail.then(start, start);
    this.tail = result;
    return result;
  }

  private async exec(ortFeeds: Record<string, ort.Tensor>, signal: AbortSignal | undefined): Promise<Record<string, Tensor>> {
    try {
      if (signal?.aborted) throw abortError();
      if (this.released) throw new Error(`model session for ${this.file} was released`);
      let out: ort.InferenceSession.ReturnType;
      const t0 = performance.now();
      try {
        out = await this.session.run(ortFeeds);
      } catch (e) {
        throw new Error(`running model ${this.file} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.stats.runMs += performance.now() - t0;
      this.stats.runs++;
      const tensors: Record<string, Tensor> = {};
      for (const name in out) {
        const t = fromOrtTensor(out[name] as ort.Tensor);
        if (t) tensors[name] = t;
      }
      return tensors;
    } finally {
      if (--this.pending === 0) {
        this.tail = undefined;
        this.drained?.();
        this.drained = undefined;
      }
    }
  }

  /** Releases the ORT session once the run in progress settles; runs still waiting their turn are refused. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.pending > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    await this.session.release();
  }
}

export interface SessionPoolOptions {
  /** Provider preference for sessions opened without their own list (default: GPU first, CPU last). */
  providers?: readonly string[];
  /** Extra ORT session options (threads, log level...). Provider-specific ones are added per provider. */
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

export interface GetSessionOptions {
  providers?: readonly string[];
}

interface Entry {
  stamp: string;
  promise: Promise<OrtModelSession>;
}

async function fileStamp(file: string): Promise<string> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new Error(`model file not found: ${file} (it is not a file)`);
    return `${st.size}:${st.mtimeMs}`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`model file not found: ${file}`);
    throw e;
  }
}

/**
 * Sessions keyed by absolute file path + provider list. A file that changed on disk (size or mtime)
 * is reopened. Concurrent gets for the same key share one load.
 */
export class SessionPool {
  private readonly entries = new Map<string, Entry>();
  private readonly providers?: readonly string[];
  private readonly sessionOptions: ort.InferenceSession.SessionOptions;

  constructor(opts: SessionPoolOptions = {}) {
    this.providers = opts.providers && opts.providers.length > 0 ? opts.providers : undefined;
    this.sessionOptions = { logSeverityLevel: 3, ...opts.sessionOptions };
  }

  /** Number of sessions held (loading or loaded). */
  get size(): number {
    return this.entries.size;
  }

  private key(file: string, opts: GetSessionOptions): { abs: string; key: string; providers: string[] } {
    const abs = path.resolve(file);
    const providers = resolveProviders(opts.providers && opts.providers.length > 0 ? opts.providers : this.providers);
    return { abs, key: `${abs}\0${providers.join(',')}`, providers };
  }

  async get(file: string, opts: GetSessionOptions = {}): Promise<ModelSession> {
    const { abs, key, providers } = this.key(file, opts);
    const stamp = await fileStamp(abs);
    const existing = this.entries.get(key);
    if (existing && existing.stamp === stamp) return existing.promise;
    if (existing) {
      this.entries.delete(key);
      existing.promise.then((s) => s.release()).catch(() => undefined);
    }
    const promise = this.open(abs, providers);
    const entry: Entry = { stamp, promise };
    this.entries.set(key, entry);
    // A failed load is not kept: the next get retries (the file may have been fixed).
    promise.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return promise;
  }

  private async open(file: string, providers: string[]): Promise<OrtModelSession> {
    try {
      const { session, provider } = await createSessionWithFallback(file, providers, this.sessionOptions);
      return new OrtModelSession(file, provider, session);
    } catch (e) {
      if (!(e instanceof SessionCreateError)) throw e;
      const tried =
        e.attempts.length > 1 ? ` (tried ${e.attempts.map((a) => `${a.provider}: ${a.error}`).join('; ')})` : '';
      throw new Error(`cannot load ONNX model ${file}: ${e.message}${tried}`);
    }
  }

  /** Totals of `OrtModelSession.stats` over the sessions loaded now. */
  async stats(): Promise<{ sessions: number; runs: number; runMs: number }> {
    const sessions = await Promise.all([...this.entries.values()].map((e) => e.promise.catch(() => undefined)));
    let runs = 0;
    let runMs = 0;
    for (const s of sessions) {
      if (!s) continue;
      runs += s.stats.runs;
      runMs += s.stats.runMs;
    }
    return { sessions: sessions.filter(Boolean).length, runs, runMs };
  }

  /** Releases the sessions of one file (all provider lists, or only the given one). Returns how many. */
  async release(file: string, opts?: GetSessionOptions): Promise<number> {
    const abs = path.resolve(file);
    const only = opts ? this.key(file, opts).key : undefined;
    const victims = [...this.entries.entries()].filter(([k]) => (only ? k === only : k.startsWith(`${abs}\0`)));
    for (const [k] of victims) this.entries.delete(k);
    await Promise.all(victims.map(([, e]) => e.promise.then((s) => s.release()).catch(() => undefined)));
    return victims.length;
  }

  /** Releases every session. The pool stays usable (later gets open new sessions). */
  async dispose(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.promise.then((s) => s.release()).catch(() => undefined)));
  }
}
