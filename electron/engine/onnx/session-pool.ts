/**
 * ONNX Runtime sessions, opened once per (model file, provider list) and shared. Each session runs one
 * call at a time (DirectML requires it; elsewhere it keeps memory predictable).
 *
 * Loaded sessions are bounded (count and model bytes): past the bound the least recently run idle ones are
 * unloaded. An unloaded session keeps its identity, so a cached MODEL handle stays valid: its next run
 * loads it again (on the provider it ran on, after checking the file is unchanged).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Tensor } from '../../../nodes/core/tensor.ts';
import type { ModelFeed, ModelSession, TensorInfo } from '../../../nodes/core/values.ts';
import { fromOrtTensor, toOrtTensor, validateFeeds } from './feeds.ts';
import { classifyProviderFailure, createSessionWithFallback, resolveProviders, SessionCreateError, type CreateSessionHooks } from './providers.ts';
import { abortError, untilAborted } from '../abort.ts';


function tensorInfos(meta: readonly ort.InferenceSession.ValueMetadata[]): TensorInfo[] {
  return meta.map((m) => ({
    name: m.name,
    type: m.isTensor ? m.type : 'non-tensor',
    // onnxruntime reports a dynamic dim without a name as '' (a symbol that would tie every such dim together).
    shape: m.isTensor ? m.shape.map((d) => ((typeof d === 'number' && d < 0) || d === '' ? -1 : d)) : [],
  }));
}

/** What the pool gives a session so it can be loaded again after being unloaded to make room. */
export interface SessionReloader {
  /** Opens the file again (refusing a file that changed on disk since the first load). */
  reload(): Promise<ort.InferenceSession>;
  /** The session holds an ORT session again: the pool may unload others to stay within its bound. */
  loaded(session: OrtModelSession): void;
  /** A run was out of memory: unload the other idle sessions; true when any was. */
  freeOthers(session: OrtModelSession): boolean;
}

/** Orders sessions by their last run, for unloading the least recently used first. */
let useClock = 0;

/** The clock now: a session whose `lastUsed` is at or past this value has run since. */
export function useClockNow(): number {
  return useClock + 1;
}

/** A ModelSession over one ORT InferenceSession. */
export class OrtModelSession implements ModelSession {
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  /** Calls into ORT and the time spent inside `InferenceSession.run` (benchmarks, call-count tests). */
  readonly stats = { runs: 0, runMs: 0 };
  private released = false;
  /** The previous call's feeds (dims, data, type per declared input), their ORT tensors and which of those wrap the feed's own array; see reusedFeeds. */
  private lastFeeds?: { sources: ModelFeed[]; direct: boolean[]; tensors: Record<string, ort.Tensor> };
  /** Runs accepted and not yet settled, the last of them, and who waits for them all to settle (release). */
  private pending = 0;
  private tail?: Promise<unknown>;
  private drained?: () => void;
  private readonly lastOutputDims = new Map<string, readonly number[]>();
  /** undefined while unloaded (see unload); `loading` is the reload in flight. */
  private session: ort.InferenceSession | undefined;
  private loading?: Promise<void>;
  /** When it last ran (useClock), for the pool's least-recently-used order. */
  lastUsed = ++useClock;

  constructor(
    readonly file: string,
    readonly provider: string,
    session: ort.InferenceSession,
    private readonly reloader?: SessionReloader,
    readonly providerFailures: readonly { provider: string; error: string }[] = [],
  ) {
    this.session = session;
    this.inputs = tensorInfos(session.inputMetadata);
    this.outputs = tensorInfos(session.outputMetadata);
  }

  /** Whether it holds an ORT session now (false once unloaded or released). */
  get loaded(): boolean {
    return this.session !== undefined;
  }

  /** No run queued, running or waiting for a reload. */
  get idle(): boolean {
    return this.pending === 0 && this.loading === undefined;
  }

  /**
   * Frees the ORT session when idle; the next run loads it again. Only sessions the pool can reload are
   * unloaded. Returns whether it was.
   */
  unload(): boolean {
    const session = this.session;
    if (!this.reloader || this.released || session === undefined || !this.idle) return false;
    this.session = undefined;
    this.lastFeeds = undefined;
    session.release().catch(() => undefined);
    return true;
  }

  run(feeds: Record<string, ModelFeed>, signal?: AbortSignal): Promise<Record<string, Tensor>> {
    if (signal?.aborted) return Promise.reject(abortError());
    if (this.released) return Promise.reject(new Error(`model session for ${this.file} was released`));
    // Validate and convert before queueing, so bad input fails at once with a clear message.
    let ortFeeds: Record<string, ort.Tensor>;
    try {
      ortFeeds = this.reusedFeeds(feeds) ?? this.convertFeeds(feeds);
    } catch (e) {
      return Promise.reject(e);
    }
    // One run at a time, so each one's time is its own. The common case, a sampler's calls one after
    // another, finds the session idle and starts at once (a promise hop less per model call).
    this.pending++;
    this.lastUsed = ++useClock;
    let result: Promise<Record<string, Tensor>>;
    if (this.tail === undefined) result = this.exec(ortFeeds, signal);
    else {
      const start = () => this.exec(ortFeeds, signal);
      result = this.tail.then(start, start);
    }
    this.tail = result;
    return result;
  }

  /**
   * The fast path of a sampler's calls: when every feed has the very same (frozen) dims object, type and
   * data length as the previous call's, that validation holds again, so only the ORT tensors of feeds
   * with new data objects (or converted copies, which must be redone) are made; the rest are reused, an
   * ORT tensor reading its array's current contents when the model runs. undefined: take the full path.
   */
  private reusedFeeds(feeds: Record<string, ModelFeed>): Record<string, ort.Tensor> | undefined {
    const last = this.lastFeeds;
    if (last === undefined) return undefined;
    const { sources, direct } = last;
    let count = 0;
    for (const _ in feeds) count++;
    if (count !== sources.length) return undefined;
    for (let k = 0; k < sources.length; k++) {
      const feed = feeds[this.inputs[k].name];
      const was = sources[k];
      if (
        feed === undefined ||
        feed.dims !== was.dims ||
        feed.type !== was.type ||
        feed.data.length !== was.data.length ||
        feed.data.constructor !== was.data.constructor
      ) {
        return undefined;
      }
    }
    let tensors = last.tensors;
    try {
      for (let k = 0; k < sources.length; k++) {
        const info = this.inputs[k];
        const feed = feeds[info.name];
        if (feed.data === sources[k].data && direct[k]) continue;
        if (tensors === last.tensors) tensors = { ...tensors }; // a queued call may still hold the old record
        const tensor = toOrtTensor(feed, info, info.name, this.file);
        tensors[info.name] = tensor;
        sources[k] = { dims: feed.dims, data: feed.data, type: feed.type };
        direct[k] = tensor.data === feed.data;
      }
    } catch (e) {
      // A conversion failed part-way (a NaN for an integer input): what is remembered no longer matches.
      this.lastFeeds = undefined;
      throw e;
    }
    last.tensors = tensors;
    return tensors;
  }

  private convertFeeds(feeds: Record<string, ModelFeed>): Record<string, ort.Tensor> {
    validateFeeds(feeds, this.inputs, this.file);
    const tensors: Record<string, ort.Tensor> = {};
    const sources: ModelFeed[] = [];
    const direct: boolean[] = [];
    let reusable = true;
    for (const info of this.inputs) {
      const feed = feeds[info.name];
      const tensor = toOrtTensor(feed, info, info.name, this.file);
      tensors[info.name] = tensor;
      sources.push({ dims: feed.dims, data: feed.data, type: feed.type });
      // A converted copy (float16, int64 from numbers, ...) does not see later writes to its source.
      direct.push(tensor.data === feed.data);
      // Only frozen dims are known not to change behind the same array object.
      if (!Object.isFrozen(feed.dims)) reusable = false;
    }
    this.lastFeeds = reusable ? { sources, direct, tensors } : undefined;
    return tensors;
  }

  /**
   * One ORT run, its time and its outputs. Written with then() rather than as an async function: a sampler
   * makes this call once per step, and every async layer costs a promise and a microtask turn.
   */
  private exec(ortFeeds: Record<string, ort.Tensor>, signal: AbortSignal | undefined, retried = false): Promise<Record<string, Tensor>> {
    if (signal?.aborted) return this.settled(Promise.reject(abortError()));
    if (this.released) return this.settled(Promise.reject(new Error(`model session for ${this.file} was released`)));
    const session = this.session;
    if (session === undefined) {
      // Unloaded to make room: load it again, then run (the reload's time is not ORT run time). A cancel does
      // not wait for the load, which goes on and leaves the session loaded for the next run.
      return untilAborted(this.reload(), signal).then(
        () => this.exec(ortFeeds, signal),
        (e: unknown) => this.settled(Promise.reject(e)),
      );
    }
    const t0 = performance.now();
    let running: Promise<ort.InferenceSession.ReturnType>;
    try {
      running = session.run(ortFeeds);
    } catch (e) {
      running = Promise.reject(e);
    }
    return running.then(
      (out) => {
        this.stats.runMs += performance.now() - t0;
        this.stats.runs++;
        this.settle();
        return this.tensorsOf(out);
      },
      (e: unknown) => {
        const message = e instanceof Error ? e.message : String(e);
        const outOfMemory = classifyProviderFailure(message) === 'memory';
        // Out of memory with other models idle on the device: unload them and run once more.
        if (!retried && outOfMemory && this.reloader?.freeOthers(this)) return this.exec(ortFeeds, signal, true);
        this.settle();
        const hint = outOfMemory ? ` (out of memory on ${this.provider}: lower the batch or the image size)` : '';
        throw new Error(`running model ${this.file} failed: ${message}${hint}`);
      },
    );
  }

  private settled<T>(p: Promise<T>): Promise<T> {
    this.settle();
    return p;
  }

  /** One accepted run has settled: the last one lets release() go on. */
  private settle(): void {
    if (--this.pending === 0) {
      this.tail = undefined;
      this.drained?.();
      this.drained = undefined;
    }
  }

  /** The run's outputs as Tensors; an output whose dims equal the previous call's reuses that frozen dims array. */
  private tensorsOf(out: ort.InferenceSession.ReturnType): Record<string, Tensor> {
    const tensors: Record<string, Tensor> = {};
    for (const name in out) {
      const t = fromOrtTensor(out[name] as ort.Tensor, this.lastOutputDims.get(name));
      if (!t) continue;
      this.lastOutputDims.set(name, t.dims);
      tensors[name] = t;
    }
    return tensors;
  }

  /** One reload shared by every run that finds the session unloaded. */
  private reload(): Promise<void> {
    this.loading ??= this.reloader!.reload().then(
      (session) => {
        this.loading = undefined;
        if (this.released) {
          session.release().catch(() => undefined);
          throw new Error(`model session for ${this.file} was released`);
        }
        this.session = session;
        this.reloader!.loaded(this);
      },
      (e: unknown) => {
        this.loading = undefined;
        throw e;
      },
    );
    return this.loading;
  }

  /** Releases the ORT session once the run in progress settles; runs still waiting their turn are refused. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.pending > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    const session = this.session;
    this.session = undefined;
    await session?.release();
  }
}

export interface SessionPoolOptions {
  /** Provider preference for sessions opened without their own list (default: GPU first, CPU last). */
  providers?: readonly string[];
  /** Extra ORT session options (threads, log level...). Provider-specific ones are added per provider. */
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Sessions kept loaded at most; past it the least recently run idle ones are unloaded (default 16). */
  maxLoadedSessions?: number;
  /**
   * Model bytes (each .onnx file and its external data) kept loaded at most, with the same rule (default:
   * half the machine's memory). The session loaded last always stays, however big.
   */
  maxLoadedBytes?: number;
  /** Creates one ORT session (tests stand in for GPUs this machine lacks). Default: ORT's. */
  createSession?: CreateSessionHooks['create'];
}

export const DEFAULT_MAX_LOADED_SESSIONS = 16;

export interface GetSessionOptions {
  providers?: readonly string[];
}

interface Entry {
  stamp: string;
  promise: Promise<OrtModelSession>;
  /** Set once loaded. */
  session?: OrtModelSession;
  /** The model's size on disk, the pool's measure of what a loaded session holds. */
  bytes: number;
}

/**
 * A model's bytes on disk: the .onnx file plus the external data files next to it that ORT exporters write
 * (model.onnx_data, model.onnx.data, model.data: named after the model; weights.pb in diffusers' folders).
 */
async function modelBytes(file: string): Promise<number> {
  const dir = path.dirname(file);
  const base = path.basename(file, path.extname(file));
  let total = 0;
  let names: string[] = [];
  try {
    names = await fs.readdir(dir);
  } catch {
    // Unreadable folder: the .onnx file alone.
  }
  for (const name of names) {
    const lower = name.toLowerCase();
    const namedAfter = (name.startsWith(`${base}.`) || name.startsWith(`${base}_`)) && !lower.endsWith('.onnx') && !lower.endsWith('.json');
    const related = name === path.basename(file) || name === 'weights.pb' || namedAfter;
    if (!related) continue;
    try {
      const st = await fs.stat(path.join(dir, name));
      if (st.isFile()) total += st.size;
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

async function fileStamp(file: string): Promise<string> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new Error(`model file not found: ${file} (it is not a file)`);
    // ORT's own message for this case is a C++ signature: say it plainly (an interrupted download or copy).
    if (st.size === 0) throw new Error(`cannot load ONNX model ${file}: the file is empty (0 bytes)`);
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
  private readonly maxLoadedSessions: number;
  private readonly maxLoadedBytes: number;
  /** A provider out of memory while loading gets one more try after the idle sessions are unloaded. */
  private readonly createHooks: CreateSessionHooks;

  constructor(opts: SessionPoolOptions = {}) {
    this.createHooks = { create: opts.createSession, onOutOfMemory: () => this.unloadIdle() > 0 };
    this.providers = opts.providers && opts.providers.length > 0 ? opts.providers : undefined;
    this.sessionOptions = { logSeverityLevel: 3, ...opts.sessionOptions };
    this.maxLoadedSessions = opts.maxLoadedSessions ?? DEFAULT_MAX_LOADED_SESSIONS;
    this.maxLoadedBytes = opts.maxLoadedBytes ?? Math.floor(os.totalmem() / 2);
    if (!Number.isInteger(this.maxLoadedSessions) || this.maxLoadedSessions < 1) {
      throw new Error(`SessionPool: maxLoadedSessions must be a positive integer, got ${this.maxLoadedSessions}`);
    }
    if (!(this.maxLoadedBytes >= 0)) throw new Error(`SessionPool: maxLoadedBytes must be a number of bytes, got ${this.maxLoadedBytes}`);
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
    const entry: Entry = { stamp, promise: undefined!, bytes: 0 };
    const promise = this.open(abs, providers, entry);
    entry.promise = promise;
    this.entries.set(key, entry);
    // A failed load is not kept: the next get retries (the file may have been fixed).
    promise.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return promise;
  }

  private async open(file: string, providers: string[], entry: Entry): Promise<OrtModelSession> {
    try {
      const { session, provider, failed } = await createSessionWithFallback(file, providers, this.sessionOptions, this.createHooks);
      entry.bytes = await modelBytes(file);
      const reloader: SessionReloader = {
        reload: () => this.reopen(file, provider, entry.stamp),
        loaded: (s) => this.makeRoom(s),
        freeOthers: (s) => this.unloadIdle(s) > 0,
      };
      const failures = failed.map((f) => ({ provider: f.provider, error: f.error }));
      const opened = new OrtModelSession(file, provider, session, reloader, failures);
      entry.session = opened;
      this.makeRoom(opened);
      return opened;
    } catch (e) {
      if (!(e instanceof SessionCreateError)) throw e;
      const tried =
        e.attempts.length > 1 ? ` (tried ${e.attempts.map((a) => `${a.provider}: ${a.error}`).join('; ')})` : '';
      throw new Error(`cannot load ONNX model ${file}: ${e.message}${tried}`);
    }
  }

  /** A session unloaded to make room, loaded again on the provider it ran on, if its file is unchanged. */
  private async reopen(file: string, provider: string, stamp: string): Promise<ort.InferenceSession> {
    if ((await fileStamp(file)) !== stamp) {
      throw new Error(`model file ${file} changed on disk since it was loaded (it was unloaded to free memory): run again to load the new version`);
    }
    try {
      return (await createSessionWithFallback(file, [provider], this.sessionOptions, this.createHooks)).session;
    } catch (e) {
      throw new Error(`cannot load ONNX model ${file} again on ${provider} (it was unloaded to free memory): ${(e as Error).message}`);
    }
  }

  /**
   * Unloads every idle loaded session but `keep`, and but those run since `usedSince` (useClockNow(): a graph
   * still running will call them again); the next run of each loads it again. Returns how many.
   */
  unloadIdle(keep?: OrtModelSession, usedSince = Infinity): number {
    let count = 0;
    for (const e of this.entries.values()) {
      const s = e.session;
      if (s && s !== keep && s.lastUsed < usedSince && s.unload()) count++;
    }
    return count;
  }

  /** Unloads the least recently run idle sessions, other than `keep`, while the loaded ones pass the bound. */
  private makeRoom(keep: OrtModelSession): void {
    const loaded = [...this.entries.values()].filter((e) => e.session?.loaded);
    let count = loaded.length;
    let bytes = loaded.reduce((sum, e) => sum + e.bytes, 0);
    if (count <= this.maxLoadedSessions && bytes <= this.maxLoadedBytes) return;
    loaded.sort((a, b) => a.session!.lastUsed - b.session!.lastUsed);
    for (const e of loaded) {
      if (count <= this.maxLoadedSessions && bytes <= this.maxLoadedBytes) break;
      if (e.session === keep || !e.session!.unload()) continue;
      count--;
      bytes -= e.bytes;
    }
  }

  /** The sessions holding an ORT session now, and their models' bytes on disk. */
  loadedNow(): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const e of this.entries.values()) {
      if (!e.session?.loaded) continue;
      count++;
      bytes += e.bytes;
    }
    return { count, bytes };
  }

  /** Totals of `OrtModelSession.stats` over the sessions held now (loaded or not: see loadedNow). */
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
