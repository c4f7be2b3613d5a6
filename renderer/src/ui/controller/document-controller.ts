/**
 * The document's life outside the canvas: new / open (presets, graph files, dropped .json or PNG) / save /
 * save as, the preset library and recent files, debounced autosave and crash recovery, Export PNG.
 */
import type { AppClient, MissingFile } from '../../engine/app-client.ts';
import type { GraphDocument } from '../../../../electron/engine/graph/schema.ts';
import { emptyDocument, parseDocument } from '../../graph/document.ts';
import { createAutosaver, type Autosaver } from '../../io/autosave.ts';
import { embedGraphInPng, readGraphFromPng } from '../../io/png-graph.ts';
import { sanitizeForExport } from '../../io/sanitize.ts';
import { fileNameOf, type MissingGroup } from '../../graph/missing-files.ts';
import type { EditorStore } from '../../state/store.ts';
import { baseName } from '../common/format.ts';
import { toast } from '../common/toasts.ts';
import { messageOf } from './run-controller.ts';
import { hashesForExport, modelRefsOf } from './model-hashes.ts';
import type { DocSource, SessionStore } from './session.ts';

export const DEFAULT_EXAMPLE_ID = 'example:gaussian-vp-ddim';
const AUTOSAVE_DELAY_MS = 1000;
const LAST_SOURCE_KEY = 'flowstudio.lastSource';
/** The schema's default document name. */
const UNNAMED = 'Untitled';

export class DocumentController {
  private readonly autosaver: Autosaver;
  /** Revision of the document opened at start: while a recovery offer is pending it is not autosaved over. */
  private startRevision = -1;
  private readonly disposers: (() => void)[] = [];

  constructor(
    private readonly client: AppClient,
    private readonly store: EditorStore,
    private readonly session: SessionStore,
  ) {
    this.autosaver = createAutosaver({ write: (doc) => this.client.writeAutosave(doc), delayMs: AUTOSAVE_DELAY_MS });
  }

  /** Opens the last document (or the default example) and offers to restore an autosave that differs from it. */
  async start(): Promise<void> {
    const [autosave] = await Promise.all([this.client.readAutosave().catch(() => null), this.refreshLibrary()]);
    // A graph file the app was launched on (a double-click, the command line) comes first.
    const requested = (await this.client.takeOpenRequests().catch(() => [] as string[])).at(-1);
    const opened =
      (requested !== undefined && (await this.openFile(requested))) ||
      (await this.reopenLast()) ||
      (await this.openPreset(DEFAULT_EXAMPLE_ID, { quiet: true }));
    if (!opened) this.load(emptyDocument(), { kind: 'new' });
    if (autosave && !sameGraph(autosave.graph, this.store.getState().doc)) {
      const parsed = parseDocument(autosave.graph);
      if (parsed.ok && parsed.doc.nodes.length > 0) {
        this.session.setState({ recovery: { graph: autosave.graph, savedAt: autosave.savedAt, nodeCount: parsed.doc.nodes.length } });
      }
    }
    this.startRevision = this.store.getState().revision;
    this.disposers.push(this.store.subscribe((s, prev) => s.revision !== prev.revision && this.scheduleAutosave()));
    // The page may close at any moment: write what is pending (the backend finishes the request).
    const flush = () => void this.autosaver.flush();
    window.addEventListener('pagehide', flush);
    this.disposers.push(() => window.removeEventListener('pagehide', flush));
    // A file opened from the system while the app runs brings its window to the front: take it then.
    const takeRequested = () => void this.openRequested();
    window.addEventListener('focus', takeRequested);
    this.disposers.push(() => window.removeEventListener('focus', takeRequested));
    // The document just opened is the working graph now (unless a recovery offer is pending).
    this.scheduleAutosave();
  }

  dispose(): void {
    for (const d of this.disposers.splice(0)) d();
    this.autosaver.dispose();
  }

  isDirty(): boolean {
    return this.store.getState().isDirty() || this.session.getState().restoredUnsaved;
  }

  // ---- recovery ----

  restoreRecovery(): void {
    const offer = this.session.getState().recovery;
    if (!offer) return;
    const parsed = parseDocument(offer.graph);
    if (!parsed.ok) {
      toast.error(`Cannot restore the autosaved graph: ${parsed.reason}`);
      this.session.setState({ recovery: null });
      return;
    }
    this.load(parsed.doc, this.session.getState().source);
    this.session.setState({ recovery: null, restoredUnsaved: true });
    toast.success('Restored your unsaved work');
  }

  discardRecovery(): void {
    this.session.setState({ recovery: null });
    this.scheduleAutosave();
  }

  // ---- opening ----

  /** Asks first when there are unsaved changes. */
  guard(action: () => void, what: string): void {
    if (!this.isDirty()) return action();
    this.session.setState({ dialog: { kind: 'confirm-discard', then: action, message: `You have unsaved changes. ${what} anyway and lose them?` } });
  }

  newDocument(): void {
    this.load(emptyDocument(), { kind: 'new' });
    this.rememberSource({ kind: 'new' });
  }

  async openPreset(id: string, opts: { quiet?: boolean } = {}): Promise<boolean> {
    try {
      const raw = await this.client.readPreset(id);
      const parsed = parseDocument(raw);
      if (!parsed.ok) throw new Error(parsed.reason);
      const info = this.session.getState().presets.find((p) => p.id === id);
      const source: DocSource = { kind: 'preset', id, name: info?.name ?? parsed.doc.metadata.name, readOnly: id.startsWith('example:') };
      this.load(parsed.doc, source);
      this.rememberSource(source);
      return true;
    } catch (e) {
      if (!opts.quiet) toast.error(`Cannot open preset "${id}": ${messageOf(e)}`);
      return false;
    }
  }

  async openFile(path: string): Promise<boolean> {
    try {
      const raw = await this.client.openGraphFile(path);
      const parsed = parseDocument(raw);
      if (!parsed.ok) throw new Error(parsed.reason);
      const source: DocSource = { kind: 'file', path };
      this.load(parsed.doc, source);
      this.rememberSource(source);
      void this.refreshLibrary();
      return true;
    } catch (e) {
      toast.error(`Cannot open ${path}: ${messageOf(e)}`);
      return false;
    }
  }

  /** File ▸ Open: the system's dialog where the app has one (desktop), else the editor's own. */
  async showOpen(): Promise<void> {
    if (!this.client.chooseGraphFile) {
      this.session.setState({ dialog: { kind: 'open-file' } });
      return;
    }
    try {
      const file = await this.client.chooseGraphFile('open');
      if (file) this.confirmOpen(file);
    } catch (e) {
      toast.error(`Cannot show the open dialog: ${messageOf(e)}`);
    }
  }

  /** The newest graph file opened from the system since the last look, if any (asking first when there are unsaved changes). */
  async openRequested(): Promise<void> {
    const paths = await this.client.takeOpenRequests().catch(() => [] as string[]);
    const file = paths.at(-1);
    if (file !== undefined) this.confirmOpen(file);
  }

  /** Opens a graph file, asking first when there are unsaved changes. */
  private confirmOpen(file: string): void {
    this.guard(() => void this.openFile(file), `Open ${baseName(file)}`);
  }

  /** A dropped or picked file: graph JSON, or a PNG FlowStudio wrote (graph read from its metadata). */
  async importFile(file: File): Promise<boolean> {
    const isPng = file.type === 'image/png' || /\.png$/i.test(file.name);
    const result = isPng ? await readGraphFromPng(new Uint8Array(await file.arrayBuffer())) : parseDocument(await file.text());
    if (!result.ok) {
      toast.error(`Cannot open ${file.name}: ${result.reason}`);
      return false;
    }
    // An imported graph belongs to no file yet: saving asks where.
    this.load(result.doc, { kind: 'new' });
    this.session.setState({ restoredUnsaved: true });
    toast.success(`Opened ${file.name}`);
    return true;
  }

  // ---- saving ----

  /** Saves where the document came from; examples and new documents go through Save As. */
  async save(): Promise<boolean> {
    const source = this.session.getState().source;
    if (source.kind === 'file') return this.saveToFile(source.path);
    // Under the document's current name: a rename in the title bar must not be undone by saving.
    if (source.kind === 'preset' && !source.readOnly) return this.saveAsPreset(this.store.getState().doc.metadata.name || source.name);
    this.session.setState({ dialog: { kind: 'save-as' } });
    return false;
  }

  async saveAsPreset(name: string): Promise<boolean> {
    const trimmed = name.trim();
    if (!trimmed) {
      toast.error('Give the preset a name');
      return false;
    }
    try {
      const doc = this.withName(trimmed);
      const info = await this.client.writePreset(trimmed, doc);
      // The open document takes the name it was saved under (one undo step, then clean).
      this.store.getState().setMetadata({ name: info.name });
      this.store.getState().markSaved();
      const source: DocSource = { kind: 'preset', id: info.id, name: info.name, readOnly: false };
      this.session.setState({ source, restoredUnsaved: false });
      this.rememberSource(source);
      toast.success(`Saved preset "${info.name}"`);
      void this.refreshLibrary();
      return true;
    } catch (e) {
      toast.error(`Cannot save preset "${trimmed}": ${messageOf(e)}`);
      return false;
    }
  }

  async saveToFile(path: string): Promise<boolean> {
    const trimmed = path.trim();
    if (!trimmed) {
      toast.error('Enter a file path');
      return false;
    }
    try {
      const written = await this.client.saveGraphFile(trimmed, this.store.getState().documentForSave());
      this.store.getState().markSaved();
      const source: DocSource = { kind: 'file', path: written || trimmed };
      this.session.setState({ source, restoredUnsaved: false });
      this.rememberSource(source);
      toast.success(`Saved ${written || trimmed}`);
      void this.refreshLibrary();
      return true;
    } catch (e) {
      toast.error(`Cannot save ${trimmed}: ${messageOf(e)}`);
      return false;
    }
  }

  async deletePreset(id: string): Promise<void> {
    try {
      await this.client.deletePreset(id);
      const source = this.session.getState().source;
      if (source.kind === 'preset' && source.id === id) this.session.setState({ source: { kind: 'new' } });
      await this.refreshLibrary();
    } catch (e) {
      toast.error(`Cannot delete preset: ${messageOf(e)}`);
    }
  }

  /** The newest output image with the sanitized graph embedded, downloaded as a file. */
  async exportPng(): Promise<void> {
    const image = this.session.getState().images[0];
    if (!image) {
      toast.info('Run the graph first: Export PNG saves the last output image with the graph inside');
      return;
    }
    try {
      const s = this.store.getState();
      const current = s.documentForSave();
      const modelHashes = await this.modelHashesFor(modelRefsOf(current, s.nodeTypes));
      const { doc } = sanitizeForExport(current, s.nodeTypes, { models: this.session.getState().models ?? [], modelHashes });
      const png = await embedGraphInPng(image.bytes, doc);
      const url = URL.createObjectURL(new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `${safeFileStem(this.displayName())}.png`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      toast.success(`Exported ${a.download}`);
    } catch (e) {
      toast.error(`Export failed: ${messageOf(e)}`);
    }
  }

  /** Model name -> sha256 for the export's tags; a model that cannot be hashed is left out, with a warning. */
  private async modelHashesFor(refs: string[]): Promise<Record<string, string>> {
    if (refs.length === 0) return {};
    try {
      const { hashes, failed } = hashesForExport(await this.client.modelHashes(refs));
      if (failed.length) toast.warning(`Exported without a content hash for ${failed.length === 1 ? 'a model' : `${failed.length} models`}: ${failed.join('; ')}`);
      return hashes;
    } catch (e) {
      toast.warning(`Exported without model content hashes: ${messageOf(e)}`);
      return {};
    }
  }

  // ---- library ----

  async refreshLibrary(): Promise<void> {
    const [presets, recent] = await Promise.all([this.client.listPresets().catch(() => null), this.client.listRecentFiles().catch(() => null)]);
    this.session.setState({ ...(presets ? { presets } : {}), ...(recent ? { recent } : {}) });
  }

  async loadModels(): Promise<void> {
    try {
      this.session.setState({ models: await this.client.listModels() });
    } catch (e) {
      toast.warning(`Cannot list models: ${messageOf(e)}`);
    }
  }

  /** The document's name (what the title bar edits); a file whose document has no name of its own shows its file name. */
  displayName(): string {
    const source = this.session.getState().source;
    const name = this.store.getState().doc.metadata.name.trim();
    if (source.kind === 'file' && (!name || name === UNNAMED)) return source.path.split(/[\\/]/).pop() ?? source.path;
    if (source.kind === 'preset') return name || source.name;
    return name || UNNAMED;
  }

  /**
   * After a document is opened: the files it reads that are not here (a shared graph's models and images),
   * in the Missing files dialog, before a run fails on them. Nothing when all are here, when the engine
   * cannot answer (the run will say it) or when another document was opened meanwhile.
   */
  async reportMissingFiles(opts: { asked?: boolean } = {}): Promise<void> {
    const epoch = this.session.getState().docEpoch;
    const doc = this.store.getState().documentForSave();
    if (doc.nodes.length === 0 && !opts.asked) return;
    let missing: MissingFile[];
    try {
      missing = await this.client.checkFiles(doc);
    } catch (e) {
      if (opts.asked) toast.error(`Cannot check the files: ${messageOf(e)}`);
      return;
    }
    const now = this.session.getState();
    if (opts.asked && missing.length === 0) return void toast.success('Every file this graph reads is here.');
    // A dialog the user is in (a confirmation, Save As) is not replaced.
    if (now.docEpoch !== epoch || missing.length === 0 || now.dialog) return;
    this.session.setState({ dialog: { kind: 'missing-files', missing } });
  }

  /**
   * Points every node param that read `group`'s file at `file` (one undo step) and checks the document's files
   * again: what is still missing, for the dialog.
   */
  async relocate(group: MissingGroup, file: string): Promise<MissingFile[]> {
    this.store.getState().beginTransaction('relocate', `Locate ${fileNameOf(group.value)}`);
    try {
      for (const use of group.uses) {
        const r = this.store.getState().setParam(use.nodeId, use.param, file);
        if (!r.ok) throw new Error(r.reason);
      }
    } finally {
      this.store.getState().endTransaction();
    }
    return this.client.checkFiles(this.store.getState().documentForSave());
  }

  // ---- internals ----

  private load(doc: GraphDocument, source: DocSource): void {
    this.store.getState().loadDocument(doc);
    this.session.setState({ source, restoredUnsaved: false, docEpoch: this.session.getState().docEpoch + 1 });
    void this.reportMissingFiles();
  }

  private withName(name: string): GraphDocument {
    const doc = this.store.getState().documentForSave();
    return { ...doc, metadata: { ...doc.metadata, name } };
  }

  private rememberSource(source: DocSource): void {
    try {
      localStorage.setItem(LAST_SOURCE_KEY, JSON.stringify(source));
    } catch {
      // Storage may be unavailable (private mode): reopening the last document is a convenience only.
    }
  }

  private async reopenLast(): Promise<boolean> {
    let source: DocSource | null = null;
    try {
      source = JSON.parse(localStorage.getItem(LAST_SOURCE_KEY) ?? 'null') as DocSource | null;
    } catch {
      source = null;
    }
    if (source?.kind === 'preset') return this.openPreset(source.id, { quiet: true });
    if (source?.kind === 'file') return this.openFile(source.path);
    return false;
  }

  /**
   * A pending recovery offer keeps the old autosave on disk until the user decides, or until they edit
   * (then their new work matters more; the offer stays available from memory for this session).
   */
  private scheduleAutosave(): void {
    if (this.session.getState().recovery !== null && this.store.getState().revision === this.startRevision) return;
    this.autosaver.schedule(this.store.getState().documentForSave());
  }
}

/** Same nodes, edges, groups and params (viewport and metadata timestamps ignored). */
export function sameGraph(a: unknown, b: unknown): boolean {
  const pa = parseDocument(a);
  const pb = parseDocument(b);
  if (!pa.ok || !pb.ok) return false;
  const key = (d: GraphDocument) => canonicalJson([d.nodes, d.edges, d.groups, d.subgraphs]);
  return key(pa.doc) === key(pb.doc);
}

/** JSON with object keys sorted, so documents that differ only in key order compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function safeFileStem(name: string): string {
  return name.replace(/\.(flowstudio|json)$/i, '').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'flowstudio';
}
