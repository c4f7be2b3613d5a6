/**
 * One object per window that owns the non-visual behaviour: startup, runs, documents, clipboard. Toolbar
 * buttons, menus and keyboard shortcuts all call these methods, so every way of doing a thing does the same.
 */
import type { AppClient } from '../../engine/app-client.ts';
import type { AlignMode } from '../../graph/align.ts';
import type { XY } from '../../graph/geometry.ts';
import type { EditorStore } from '../../state/store.ts';
import { toast } from '../common/toasts.ts';
import { DocumentController } from './document-controller.ts';
import { messageOf, RunController } from './run-controller.ts';
import { createSessionStore, type SessionStore } from './session.ts';

/** What the canvas lends the rest of the UI once mounted (it owns the React Flow instance). */
export interface CanvasApi {
  fitView(): void;
  /** The pointer's last position on the canvas in flow coordinates (null when it is elsewhere). */
  pointerFlow(): XY | null;
  /** Opens the add-node palette at the pointer (or the canvas centre); false when the canvas is not there. */
  openPalette(): boolean;
}

export class AppController {
  /** Set by the canvas while it is mounted. */
  canvas: CanvasApi | null = null;
  readonly session: SessionStore = createSessionStore();
  readonly runs: RunController;
  readonly docs: DocumentController;
  /** Last clipboard text this window wrote, for when the system clipboard is unavailable. */
  private localClipboard = '';

  constructor(
    readonly client: AppClient,
    readonly store: EditorStore,
  ) {
    this.runs = new RunController(client, store, this.session);
    this.docs = new DocumentController(client, store, this.session);
  }

  async start(): Promise<void> {
    this.session.setState({ connection: this.client.connection });
    this.client.onConnectionChange((connection) => this.session.setState({ connection }));
    try {
      this.store.getState().setNodeTypes(await this.client.listNodeTypes());
    } catch (e) {
      this.session.setState({ fatal: `Cannot reach the engine: ${messageOf(e)}` });
      return;
    }
    this.runs.start();
    await this.docs.start();
    this.session.setState({ ready: true });
    void this.docs.loadModels();
    void this.runs.refreshMemory();
  }

  // ---- editing commands ----

  /** Clipboard JSON of the selection (also kept locally); null when nothing is selected. */
  copy(): string | null {
    const { selection } = this.store.getState();
    if (selection.nodes.length === 0 && selection.groups.length === 0) return null;
    this.localClipboard = this.store.getState().copySelection();
    return this.localClipboard;
  }

  cut(): string | null {
    const text = this.copy();
    if (text) this.store.getState().deleteSelection();
    return text;
  }

  /** Pastes clipboard text (from another window too), falling back to this window's last copy. */
  paste(text: string | null, at?: XY): void {
    const source = text && text.trim() ? text : this.localClipboard;
    if (!source) return;
    const result = this.store.getState().paste(source, at);
    if (!result.ok) toast.warning(result.reason);
  }

  duplicate(): void {
    const { selection } = this.store.getState();
    if (!selection.nodes.length) return;
    const result = this.store.getState().duplicate(selection.nodes);
    if (!result.ok) toast.warning(result.reason);
  }

  deleteSelection(): void {
    this.store.getState().deleteSelection();
  }

  undo(): void {
    this.store.getState().undo();
  }

  redo(): void {
    this.store.getState().redo();
  }

  align(mode: AlignMode): void {
    const ids = this.store.getState().selection.nodes;
    const needed = mode.startsWith('distribute') ? 3 : 2;
    if (ids.length < needed) {
      toast.info(`Select at least ${needed} nodes to ${mode.startsWith('distribute') ? 'distribute' : 'align'} them`);
      return;
    }
    this.store.getState().align(ids, mode);
  }

  groupSelection(title = 'Group', color?: string): void {
    const ids = this.store.getState().selection.nodes;
    const result = this.store.getState().createGroup(ids, title, color);
    if (!result.ok) toast.info(result.reason);
  }

  // ---- running ----

  run(): void {
    this.runs.run();
  }

  /** Runs what the selected node needs (the node included). */
  runToSelected(): void {
    const ids = this.store.getState().selection.nodes;
    if (ids.length === 0) {
      toast.info('Select a node to run up to it');
      return;
    }
    this.runs.run([...ids]);
  }

  cancel(): void {
    void this.runs.cancel();
  }
}
