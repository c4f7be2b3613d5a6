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
}
