/**
 * UI session state that is neither the document (undoable, in the editor store) nor run state: where the
 * document came from, seed modes, output images, panels' data, the recovery offer. Not persisted except
 * the few preferences mirrored to localStorage by ./preferences.ts.
 */
import { createStore } from 'zustand/vanilla';
import type { MemoryStatus, MissingFile, ModelInfo, PresetInfo, RecentFile } from '../../engine/app-client.ts';
import type { ConnectionState } from '../../engine/app-client.ts';
import type { SeedMode } from '../inspector/fields/SeedField.tsx';

/** Where the open document lives: a graph file on disk, a preset (examples are read-only), or nowhere yet. */
export type DocSource = { kind: 'file'; path: string } | { kind: 'preset'; id: string; name: string; readOnly: boolean } | { kind: 'new' };

export interface OutputImage {
  /** Object URL of the PNG bytes (revoked when it falls off the list). */
  url: string;
  path: string;
  nodeId: string;
  runId: string;
  at: number;
  bytes: Uint8Array;
}

export interface RecoveryOffer {
  graph: unknown;
  savedAt: string;
  nodeCount: number;
}

/** Modal dialogs (one at a time). */
export type Dialog =
  | { kind: 'open-file' }
  | { kind: 'save-as' }
  | { kind: 'system' }
  | { kind: 'confirm-discard'; then: () => void; message: string }
  /** The files the open document reads that are not here (checkFiles), to locate before a run fails on them. */
  | { kind: 'missing-files'; missing: MissingFile[] }
  | null;

export interface SessionState {
  source: DocSource;
  /** The document was restored from autosave and has not been saved since (dirty even without edits). */
  restoredUnsaved: boolean;
  connection: ConnectionState;
  /** Startup finished (node types loaded, first document open). */
  ready: boolean;
  fatal: string | null;
  /** "nodeId\u0000param" -> mode; absent means fixed. */
  seedModes: Record<string, SeedMode>;
  /** Newest first, at most MAX_OUTPUT_IMAGES. */
  images: OutputImage[];
  presets: PresetInfo[];
  recent: RecentFile[];
  models: ModelInfo[] | null;
  /** What the engine holds between runs (refreshed after each run and Free memory); null until known. */
  memory: MemoryStatus | null;
  recovery: RecoveryOffer | null;
  dialog: Dialog;
  snapToGrid: boolean;
  showMinimap: boolean;
  /** Search palette: open at a flow position (where the node goes) and a screen position (where the box goes). */
  palette: PaletteRequest | null;
  /** Bumped whenever a different document is loaded (the canvas fits it into view). */
  docEpoch: number;
  /** Box selection on plain drag (pan with the middle/right button) instead of panning. */
  selectMode: boolean;
}

export interface PaletteRequest {
  flow: { x: number; y: number };
  screen: { x: number; y: number };
  /** Insert the chosen node into this edge. */
  edgeId?: string;
  /** A connection dragged out and dropped on empty canvas: only compatible types are offered, then wired up. */
  connectFrom?: { nodeId: string; port: string; side: 'source' | 'target'; portType: string };
}

export const MAX_OUTPUT_IMAGES = 40;

export function seedModeKey(nodeId: string, param: string): string {
  return `${nodeId}\u0000${param}`;
}

export function createSessionStore() {
  return createStore<SessionState>()(() => ({
    source: { kind: 'new' },
    restoredUnsaved: false,
    connection: 'connecting',
    ready: false,
    fatal: null,
    seedModes: {},
    images: [],
    presets: [],
    recent: [],
    models: null,
    memory: null,
    recovery: null,
    dialog: null,
    snapToGrid: false,
    showMinimap: true,
    palette: null,
    docEpoch: 0,
    selectMode: false,
  }));
}

export type SessionStore = ReturnType<typeof createSessionStore>;
