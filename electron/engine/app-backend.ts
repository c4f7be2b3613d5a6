/**
 * The app backend: an EngineAPI (in-process Engine or WorkerEngine) plus what the editor needs around
 * it (presets, autosave, graph files, recent files, output files), i.e. the AppAPI every transport carries.
 * Everything that touches the disk is confined to known folders; names and paths from the UI are checked.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { EngineAPI, EngineRestart, ReadFolderGrant, FreeMemoryRequest, MemoryReport, MemoryStatus, MissingFile, ModelInfo, RunRequest, RunSummary, SystemInfo } from './api.ts';
import type { AppAPI, ListedFile, ListFilesOptions, ModelHashResult, PresetInfo, RecentFile, RestartReport } from './app-api.ts';
import type { EngineEventListener } from './events.ts';
import type { NodeTypeDescription } from './graph/describe.ts';
import type { OutputValue } from './summary.ts';
import type { GraphError } from './graph/errors.ts';
import { createFileService } from './files.ts';
import { makeDirsSync } from './make-dirs.ts';
import { EXAMPLES_DIR } from './paths.ts';
import type { FileService } from '../../nodes/core/types.ts';
import { AutosaveStore } from './app/autosave.ts';
import { defaultDataDir } from './app/data-dir.ts';
import { listFilesUnder } from './app/file-listing.ts';
import { BadRequestError, NotFoundError } from './app/errors.ts';
import { GraphFiles } from './app/graph-files.ts';
import { ModelHashes } from './app/model-hashes.ts';
import { PresetStore } from './app/presets.ts';
import { RecentFiles } from './app/recent-files.ts';

export interface AppBackendOptions {
  /** With ReadFolderGrant (Engine, WorkerEngine), folders the user picks through the system are readable by runs too. */
  engine: EngineAPI & Partial<ReadFolderGrant> & Partial<EngineRestart>;
  /** The engine's output folder (what runs write): readable through readFile. */
  outDir: string;
  /** Presets, autosave, recent files. Default: FLOWSTUDIO_DATA_DIR, $XDG_DATA_HOME/flowstudio or ~/.local/share/flowstudio. */
  dataDir?: string;
  /** Shipped example graphs (read-only presets). Default: the app's examples/ folder. */
  examplesDir?: string;
  /** Folders graph files may be opened from and saved to, besides <dataDir>/graphs (where relative paths land). */
  graphRoots?: string[];
  /** Extra folders readFile / listFiles / modelHashes may read (input images, models, ...), besides outDir, examples, data dir and graphRoots. */
  readRoots?: string[];
  /** Told each graph file opened or saved (the desktop adds it to the system's recent documents). */
  onRecentFile?: (file: string) => void;
}

export class AppBackend implements AppAPI {
  readonly engine: EngineAPI & Partial<ReadFolderGrant> & Partial<EngineRestart>;
  readonly dataDir: string;
  readonly outDir: string;
  readonly graphRoots: string[];
  /** Folders readFile, listFiles and modelHashes may look in, in lookup order. */
  readonly readRoots: string[];
  private readonly openRequests: string[] = [];
  private readonly onRecentFile?: (file: string) => void;
  private readonly presets: PresetStore;
  private readonly autosave: AutosaveStore;
  private readonly recent: RecentFiles;
  private readonly graphFiles: GraphFiles;
  private outputFiles: FileService;
  private readonly hashes: ModelHashes;

  constructor(opts: AppBackendOptions) {
    this.engine = opts.engine;
    this.onRecentFile = opts.onRecentFile;
    this.dataDir = path.resolve(opts.dataDir ?? defaultDataDir());
    this.outDir = path.resolve(opts.outDir);
    const examplesDir = path.resolve(opts.examplesDir ?? EXAMPLES_DIR);
    this.graphRoots = [path.join(this.dataDir, 'graphs'), ...(opts.graphRoots ?? []).map((r) => path.resolve(r))];
    // Roots must exist for realpath checks; a fresh data dir has none of them yet.
    for (const dir of [this.dataDir, this.outDir, ...this.graphRoots]) makeDirsSync(dir);

    this.presets = new PresetStore({ examplesDir, userDir: path.join(this.dataDir, 'presets') });
    this.autosave = new AutosaveStore(path.join(this.dataDir, 'autosave.json'));
    this.recent = new RecentFiles(path.join(this.dataDir, 'recent-files.json'));
    this.graphFiles = new GraphFiles({ roots: this.graphRoots, readOnlyRoots: [examplesDir] });
    this.readRoots = [this.outDir, examplesDir, this.dataDir, ...this.graphRoots, ...(opts.readRoots ?? []).map((r) => path.resolve(r))];
    this.outputFiles = createFileService({ outDir: this.outDir, readRoots: this.readRoots });
    this.hashes = new ModelHashes({ listModels: () => this.engine.listModels(), resolveRead: (f) => this.outputFiles.resolveRead(f) });
  }

  // ---- EngineAPI: passed through unchanged ----
  listNodeTypes(): Promise<NodeTypeDescription[]> {
    return this.engine.listNodeTypes();
  }
  validate(graph: unknown): Promise<GraphError[]> {
    return this.engine.validate(graph);
  }
  checkFiles(graph: unknown): Promise<MissingFile[]> {
    return this.engine.checkFiles(graph);
  }
  run(request: RunRequest): Promise<RunSummary> {
    return this.engine.run(request);
  }
  cancel(runId: string): Promise<boolean> {
    return this.engine.cancel(runId);
  }
  subscribe(listener: EngineEventListener): () => void {
    return this.engine.subscribe(listener);
  }
  listModels(): Promise<ModelInfo[]> {
    return this.engine.listModels();
  }
  readOutput(runId: string, nodeId: string, port: string): Promise<OutputValue | null> {
    return this.engine.readOutput(runId, nodeId, port);
  }
  freeMemory(request?: FreeMemoryRequest): Promise<MemoryReport> {
    return this.engine.freeMemory(request);
  }
  memoryStatus(): Promise<MemoryStatus> {
    return this.engine.memoryStatus();
  }
  systemInfo(): Promise<SystemInfo> {
    return this.engine.systemInfo();
  }

  // ---- presets ----
  listPresets(): Promise<PresetInfo[]> {
    return this.presets.list();
  }
  readPreset(id: string): Promise<unknown> {
    return this.presets.read(id);
  }
  writePreset(name: string, graph: unknown): Promise<PresetInfo> {
    return this.presets.write(name, graph);
  }
  deletePreset(id: string): Promise<void> {
    return this.presets.delete(id);
  }

  // ---- autosave ----
  readAutosave(): Promise<{ graph: unknown; savedAt: string } | null> {
    return this.autosave.read();
  }
  async writeAutosave(graph: unknown): Promise<void> {
    await this.autosave.write(graph);
  }

  // ---- graph files ----
  async openGraphFile(file: string): Promise<unknown> {
    const { doc, path: real } = this.graphFiles.open(file);
    await this.addRecent(real);
    return doc;
  }
  async saveGraphFile(file: string, graph: unknown): Promise<string> {
    const written = this.graphFiles.save(file, graph);
    await this.addRecent(written);
    return written;
  }
  private async addRecent(file: string): Promise<void> {
    await this.recent.add(file);
    this.onRecentFile?.(file);
  }

  listRecentFiles(): Promise<RecentFile[]> {
    return this.recent.list();
  }

  // ---- output and input files ----
  /** The real path of a file under the allowed read roots; throws FileAccessError otherwise. */
  resolveRead(file: string): string {
    return this.outputFiles.resolveRead(file);
  }

  async readFile(file: string): Promise<Uint8Array> {
    const real = this.resolveRead(file);
    const bytes = await fs.promises.readFile(real);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  // ---- pickers and export ----
  modelHashes(refs: string[]): Promise<Record<string, ModelHashResult>> {
    return this.hashes.hash(refs);
  }
  listFiles(opts: ListFilesOptions): Promise<ListedFile[]> {
    return listFilesUnder(this.readRoots, opts);
  }

  // ---- graph files opened from the operating system ----

  /**
   * Queues a graph file the user opened from the system (a double-click, a command-line argument: never a
   * path from a page). That is the user's own choice of file, so its folder joins the graph roots for this
   * session: the editor can open it and save it back. Returns the real path; throws NotFoundError or
   * BadRequestError (not a graph file).
   */
  requestOpen(file: string): string {
    if (!GraphFiles.isGraphPath(file)) throw new BadRequestError(`Cannot open "${file}": not a graph file (.flowstudio or .json)`);
    let real: string;
    try {
      real = fs.realpathSync(path.resolve(file));
    } catch {
      throw new NotFoundError(`Graph file not found: ${file}`);
    }
    if (!fs.statSync(real).isFile()) throw new BadRequestError(`Cannot open "${file}": not a file`);
    this.allowGraphFolder(path.dirname(real));
    this.openRequests.push(real);
    return real;
  }

  /**
   * Lets graph files be opened from and saved to `dir` for this session, and files under it be read (by the
   * editor and by runs). Only for a folder the user chose through the system (a file they opened, a system
   * file dialog): never a page's path.
   */
  allowGraphFolder(dir: string): void {
    const resolved = path.resolve(dir);
    this.allowReadFolder(resolved);
    if (this.graphRoots.includes(resolved)) return;
    this.graphRoots.push(resolved);
    this.graphFiles.addRoot(resolved);
  }

  /**
   * Lets files under `dir` be read for this session: by readFile and the pickers, and by runs (an input image
   * picked in a system dialog, or lying next to a graph file opened from the system). Same trust rule.
   */
  allowReadFolder(dir: string): void {
    const resolved = path.resolve(dir);
    // A folder already here needs nothing: the app gives the engine the folders it gives the backend
    // (output, examples, data dir, --root folders), so only a new one is passed on.
    if (this.readRoots.includes(resolved)) return;
    this.readRoots.push(resolved);
    this.outputFiles = createFileService({ outDir: this.outDir, readRoots: this.readRoots });
    // The worker takes requests in order: a run asked for after this sees the folder.
    void this.engine.allowReadFolder?.(resolved).catch(() => undefined);
  }

  async restartEngine(): Promise<RestartReport> {
    if (!this.engine.restart) return { restarted: false, reason: "the engine runs inside the app's own process here: there is no engine process to restart" };
    return { restarted: true, runsStopped: await this.engine.restart() };
  }

  async takeOpenRequests(): Promise<string[]> {
    return this.openRequests.splice(0);
  }
}
