/**
 * What the editor needs beyond running graphs: presets, autosave, graph files, output files.
 * Implemented once in-process (electron/engine/app-backend.ts) and carried unchanged by every transport
 * (local HTTP/WebSocket server now, Electron IPC later). The renderer only ever sees this interface.
 */
import type { EngineAPI } from './api.ts';

export interface PresetInfo {
  /** Stable id: "example:<file stem>" or "user:<file stem>". */
  id: string;
  name: string;
  source: 'example' | 'user';
  description: string;
  tags: string[];
  modified?: string;
}

export interface RecentFile {
  path: string;
  name: string;
  openedAt: string;
}

/** A model's content hash (see electron/engine/models/model-hash.ts), or why it could not be computed. */
export type ModelHashResult =
  | { name: string; sha256: string }
  /** The ref does not resolve (missing, outside the allowed folders, not a model): `error` says which. */
  | { name: string; error: string };

export type FileListKind = 'image' | 'latent' | 'model' | 'any';

export interface ListFilesOptions {
  /** What the picker wants: images, latents (.npy), models (diffusers folders, .onnx with a sidecar), anything. */
  kind: FileListKind;
  /** Only these extensions (lower case with the dot, e.g. [".png"]); default: the kind's usual ones. */
  extensions?: string[];
}

export interface ListedFile {
  /** Absolute path, usable as a file param (inside an allowed root). */
  path: string;
  name: string;
  /** The allowed folder it was found under. */
  root: string;
  /** Bytes (0 for a model folder). */
  size: number;
  /** ISO time of the last change. */
  modified: string;
  /** A diffusers-ONNX model folder rather than a file. */
  isFolder: boolean;
}

export interface AppAPI extends EngineAPI {
  /** Shipped examples first, then the user's presets. */
  listPresets(): Promise<PresetInfo[]>;
  /** The graph document of a preset (migrated to the current version). */
  readPreset(id: string): Promise<unknown>;
  /** Saves (or overwrites) a user preset by name; atomic. */
  writePreset(name: string, graph: unknown): Promise<PresetInfo>;
  deletePreset(id: string): Promise<void>;
  /** The working graph saved by autosave, or null. Used for crash recovery on start. */
  readAutosave(): Promise<{ graph: unknown; savedAt: string } | null>;
  writeAutosave(graph: unknown): Promise<void>;
  /** Graph files on disk (desktop open/save dialogs; paths checked against the allowed roots). */
  openGraphFile(path: string): Promise<unknown>;
  saveGraphFile(path: string, graph: unknown): Promise<string>;
  listRecentFiles(): Promise<RecentFile[]>;
  /** Bytes of an output or input file under the allowed roots (images the graph wrote, ...). */
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Content hashes (sha256 of the weight files) of models by ref as written in a graph ("embedded:<name>",
   * a diffusers-ONNX folder or a .onnx file), keyed by that ref. Used to record them in exported PNGs.
   */
  modelHashes(refs: string[]): Promise<Record<string, ModelHashResult>>;
  /**
   * Files under the allowed read roots (output folder, examples, data dir, graph roots, extra read roots)
   * for the file pickers: at most 500, at most 3 folders deep, hidden folders skipped, no symlink escapes.
   */
  listFiles(opts: ListFilesOptions): Promise<ListedFile[]>;
  /**
   * Graph files the user opened from the operating system (a double-click on a .flowstudio file, a file
   * named on the command line) since the last call, oldest first; taking them clears the list, so one
   * editor opens each. Editors ask at start and whenever their window gets the focus.
   */
  takeOpenRequests(): Promise<string[]>;
  /**
   * Ends the engine now and starts a fresh one (Engine ▸ Restart engine): runs in progress stop at once, even
   * inside a model call, and end as cancelled; loaded models and cached outputs are gone. `restarted` is false
   * where the engine runs inside the app's own process (nothing to restart), with the reason.
   */
  restartEngine(): Promise<RestartReport>;
}

export type RestartReport = { restarted: true; runsStopped: number } | { restarted: false; reason: string };

/** Every AppAPI method a client calls (events come by subscribe, or as pushed messages over a transport). */
export type AppMethod = Exclude<keyof AppAPI, 'subscribe'>;
