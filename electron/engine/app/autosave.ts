/**
 * The working graph, saved every few seconds by the editor for crash recovery: one JSON file
 * {format, savedAt, graph}, replaced atomically so a crash mid-write leaves the previous save.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../../nodes/core/io/atomic-write.ts';
import { parseGraphValue } from '../graph/io.ts';
import type { GraphDocument } from '../graph/schema.ts';
import { makeDirs } from '../make-dirs.ts';

const AUTOSAVE_FORMAT = 'flowstudio-autosave';

export interface AutosaveEntry {
  graph: GraphDocument;
  savedAt: string;
}

export class AutosaveStore {
  constructor(private readonly file: string) {}

  /** The last save, or null when there is none or it cannot be read (recovery must never block startup). */
  async read(): Promise<AutosaveEntry | null> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.file, 'utf8');
    } catch {
      return null;
    }
    try {
      const saved = JSON.parse(text) as { format?: unknown; savedAt?: unknown; graph?: unknown };
      if (saved.format !== AUTOSAVE_FORMAT || typeof saved.savedAt !== 'string') return null;
      return { graph: parseGraphValue(saved.graph), savedAt: saved.savedAt };
    } catch {
      return null;
    }
  }

  /** Validates first (GraphValidationError), so a broken document never replaces a good save. */
  async write(graph: unknown): Promise<AutosaveEntry> {
    const entry = { graph: parseGraphValue(graph), savedAt: new Date().toISOString() };
    await makeDirs(path.dirname(this.file));
    await writeFileAtomic(this.file, Buffer.from(JSON.stringify({ format: AUTOSAVE_FORMAT, ...entry }), 'utf8'));
    return entry;
  }
}
