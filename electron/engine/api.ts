/**
 * The one engine API. Electron IPC, the local HTTP/WebSocket server and the in-process CLI all expose
 * exactly this; the renderer talks to it through an adapter and never knows which transport it has.
 */
import type { EngineEventListener } from './events.ts';
import type { GraphError } from './graph/errors.ts';
import type { NodeTypeDescription } from './graph/describe.ts';
import type { OutputValue, ValueSummary } from './summary.ts';

export interface RunRequest {
  /** The graph document (any supported schema version; migrated on the way in). */
  graph: unknown;
  /** Produce these node ids and what they need; default: the whole graph. */
  targets?: string[];
  /** Re-execute these node ids (or every node) even when cached. */
  force?: boolean | string[];
  /** Chosen by the caller so it can subscribe/cancel before the run starts; generated when absent. */
  runId?: string;
}

export interface RunSummary {
  runId: string;
  status: 'finished' | 'cancelled' | 'failed' | 'invalid';
  ms: number;
  outDir: string;
  error?: { nodeId?: string; nodeType?: string; message: string };
  /** Validation errors when status is 'invalid'. */
  errors?: GraphError[];
  nodes: Record<string, { state: string; ms: number }>;
  outputs: Record<string, Record<string, ValueSummary>>;
}

/** What freeMemory should free; each defaults to true. */
export interface FreeMemoryRequest {
  /** Unload the ONNX models no run is using (the next run of each loads it again). */
  models?: boolean;
  /** Drop the cached node outputs, in memory and spilled to disk (the next run recomputes them). */
  cache?: boolean;
}

/** What freeMemory freed, and what stays held. */
export interface MemoryReport {
  modelsUnloaded: number;
  /** Models still loaded: a run was using them. */
  modelsLoaded: number;
  /** Bytes of cached outputs dropped (memory and disk; the cache's own estimate). */
  cacheBytesFreed: number;
}

/** What the engine holds between runs. */
export interface MemoryStatus {
  modelsLoaded: number;
  /** The loaded models' size on disk: roughly what their weights take in memory. */
  modelBytes: number;
  /** Cached node outputs in memory, and spilled to disk (the cache's own estimate). */
  cacheBytes: number;
  cacheBytesOnDisk: number;
}

export type ProviderState =
  /** It created a session. */
  | 'works'
  /** In the build, but it could not create a session (why: error, kind). */
  | 'fails'
  /** This platform never has it (DirectML off Windows, CoreML off macOS). */
  | 'not-on-platform'
  /** This onnxruntime-node build lacks it, or its library is not installed (CUDA: npm run setup:cuda). */
  | 'not-installed';

/** One execution provider on this machine (electron/engine/onnx/provider-check.ts). */
export interface ProviderCheck {
  provider: string;
  state: ProviderState;
  /** Its place in the order a run tries providers in by default on this machine (1 = first); absent: not tried. */
  defaultRank?: number;
  error?: string;
  /** Why it failed, sorted as the session pool sorts it (onnx/providers.ts classifyProviderFailure). */
  kind?: 'setup' | 'memory' | 'model';
  /** What would make it work, where FlowStudio knows (onnx/provider-hints.ts). */
  hint?: string;
}

/** Versions, the machine and its execution providers: the System dialog, and what a bug report needs. */
export interface SystemInfo {
  appVersion: string;
  onnxruntimeVersion: string;
  nodeVersion: string;
  platform: string;
  arch: string;
  cpus: number;
  totalMemory: number;
  freeMemory: number;
  /** Generated models and spilled cache entries. */
  cacheDir: string;
  /** Where runs write their outputs. */
  outDir: string;
  providers: ProviderCheck[];
  /**
   * Where the engine runs: in the app's own thread ('app', the CLI), a worker thread, or a process of its
   * own, whose native crash the app survives. `pid` is that process's.
   */
  engine: { runsIn: 'app' | 'thread' | 'process'; pid: number; crashes?: number; lastCrash?: EngineCrash };
}

/** A death of the engine worker: when, why, and the node each run in flight was running. */
export interface EngineCrash {
  /** ISO time. */
  at: string;
  /** "the engine process crashed (SIGSEGV)". */
  cause: string;
  runs: { runId: string; nodeId?: string; nodeType?: string }[];
}

export interface ModelInfo {
  ref: string;
  name: string;
  description: string;
  kind: string;
  /** The diffusers-ONNX folder on disk (embedded models are generated on first listing). */
  folder: string;
}

/**
 * Run-time file access for the app's own code, for a folder the user chose through the operating system
 * (a graph file they opened, a system file dialog). Not part of EngineAPI: no transport carries it, so a
 * page can never widen what the engine reads.
 */
export interface ReadFolderGrant {
  /** Graphs may read files under `dir` from now on (relative paths are looked up there too, last). */
  allowReadFolder(dir: string): Promise<void>;
}

/**
 * An engine that runs in a worker can be restarted: ended now, whatever it is doing, and started afresh.
 * What the user reaches for when a model call takes too long to wait for, or memory stays taken.
 */
export interface EngineRestart {
  /** Resolves with how many runs it stopped (they end as cancelled) once a fresh engine takes requests. */
  restart(): Promise<number>;
}

/** A file a graph reads that cannot be read here: what checkFiles reports, one per node param. */
export interface MissingFile {
  nodeId: string;
  nodeType: string;
  param: string;
  /** The param's value: a path, or a shared graph's bare name ("sd-turbo", "photo.png"). */
  value: string;
  fileKind: 'model' | 'image' | 'latent' | 'any';
  /** Why it cannot be read, as a run would say it. */
  message: string;
}

export interface EngineAPI {
  listNodeTypes(): Promise<NodeTypeDescription[]>;
  validate(graph: unknown): Promise<GraphError[]>;
  /**
   * The files a graph reads (params declared as files to read) that are missing or not allowed here, so the
   * editor can say so when a graph is opened, not at the node that fails mid-run. [] when all are there.
   */
  checkFiles(graph: unknown): Promise<MissingFile[]>;
  run(request: RunRequest): Promise<RunSummary>;
  cancel(runId: string): Promise<boolean>;
  subscribe(listener: EngineEventListener): () => void;
  listModels(): Promise<ModelInfo[]>;
  /**
   * The numbers of one output of one of the last few runs (tensors, trajectories, metrics, scalars), for
   * the debug views. null when the run is no longer kept or produced no such node/port.
   */
  readOutput(runId: string, nodeId: string, port: string): Promise<OutputValue | null>;
  /**
   * Unloads idle models and drops cached outputs, for the user who needs the memory elsewhere. The models a
   * run in progress has called stay loaded, and the outputs of recent runs stay readable.
   */
  freeMemory(request?: FreeMemoryRequest): Promise<MemoryReport>;
  /** Loaded models and cached outputs now, for the editor's status bar. */
  memoryStatus(): Promise<MemoryStatus>;
  /** Versions, the machine, and which execution providers start here (checked once per engine). */
  systemInfo(): Promise<SystemInfo>;
}
