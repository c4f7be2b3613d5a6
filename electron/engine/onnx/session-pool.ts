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
    // onnxruntime reports a dynamic dim without a name as '' (a symbol that would tie every such dim together).
    shape: m.isTensor ? m.shape.map((d) => ((typeof d === 'number' && d < 0) || d === '' ? -1 : d)) : [],
  }));
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
      ortFeeds = this.reusedFeeds(feeds) ?? this.convertFeeds(feeds);
    } catch (e) {
      return Promise.reject(e);
    }
    // One run at a time, so each one's time is its own. The common case, a sampler's calls one after
    // another, finds the session idle and starts at once (a promise hop less per model call).
    this.pending++;
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
  private exec(ortFeeds: Record<string, ort.Tensor>, signal: AbortSignal | undefined): Promise<Record<string, Tensor>> {
    if (signal?.aborted) return this.settled(Promise.reject(abortError()));
    if (this.released) return this.settled(Promise.reject(new Error(`model session for ${this.file} was released`)));
    const t0 = performance.now();
    let running: Promise<ort.InferenceSession.ReturnType>;
    try {
      running = this.session.run(ortFeeds);
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
        this.settle();
        throw new Error(`running model ${this.file} failed: ${e instanceof Error ? e.message : String(e)}`);
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
