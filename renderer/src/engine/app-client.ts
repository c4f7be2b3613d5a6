/**
 * What the UI talks to: the AppAPI (engine + presets, autosave, files) plus the state of the event
 * connection. Transports (HTTP + WebSocket now, Electron IPC later) implement it; the UI never knows which.
 * Type-only imports from the engine: nothing from Node ends up in the renderer bundle.
 */
import type { AppAPI } from '../../../electron/engine/app-api.ts';
import type { GraphError } from '../../../electron/engine/graph/errors.ts';
import type { FileListKind } from '../../../electron/engine/app-api.ts';

export type { AppAPI, AppMethod, FileListKind, ListedFile, ListFilesOptions, ModelHashResult, PresetInfo, RecentFile } from '../../../electron/engine/app-api.ts';
export type { MemoryReport, MemoryStatus, MissingFile, ModelInfo, RunRequest, RunSummary, SystemInfo } from '../../../electron/engine/api.ts';
export type { OutputValue, TensorData } from '../../../electron/engine/summary.ts';
export type { EngineEvent, EngineEventListener, NodeRunState } from '../../../electron/engine/events.ts';
export type { GraphError } from '../../../electron/engine/graph/errors.ts';
export type { NodeTypeDescription } from '../../../electron/engine/graph/describe.ts';

/** 'connecting' until the event stream is up, 'closed' while it is down (reconnects run in the background). */
export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface AppClient extends AppAPI {
  readonly connection: ConnectionState;
  onConnectionChange(listener: (state: ConnectionState) => void): () => void;
  /** Stops the event stream; calls made afterwards still work (HTTP) but no events arrive. */
  close(): void;
  /** The system's file dialog for graph files (electron/desktop/desktop-api.ts); absent in a browser tab. */
  chooseGraphFile?(mode: 'open' | 'save', suggestedPath?: string): Promise<string | null>;
  /** The system's open dialog for a node's input file (or model folder); absent in a browser tab. */
  chooseInputFile?(kind: FileListKind, extensions?: string[]): Promise<string | null>;
  /** Shows an output file in the system's file manager; absent in a browser tab. */
  showInFolder?(file: string): Promise<void>;
  /** Commands from the app around the page (the desktop menu); absent where there is none (a browser tab). */
  onCommand?(listener: (command: string) => void): () => void;
}

/**
 * A failed call, with the backend's error name kept ('GraphValidationError', 'NotFoundError',
 * 'FileAccessError', ...) and, for invalid graphs, the structured errors to show on nodes.
 */
export class EngineRequestError extends Error {
  constructor(
    name: string,
    message: string,
    readonly status?: number,
    readonly errors?: GraphError[],
  ) {
    super(message);
    this.name = name;
  }
}
