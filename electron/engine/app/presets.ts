/**
 * The preset library: shipped examples (read-only, id "example:<stem>") and the user's own presets
 * (id "user:<stem>", one .flowstudio file each in the data dir, written atomically).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PresetInfo } from '../app-api.ts';
import { parseGraphValue, readGraphFile, writeGraphFile } from '../graph/io.ts';
import { makeDirsSync } from '../make-dirs.ts';
import { GRAPH_FILE_EXTENSION, type GraphDocument } from '../graph/schema.ts';
import { BadRequestError, NotFoundError } from './errors.ts';
import { isPlainFileStem, presetFileStem } from './safe-name.ts';

/** Extensions a preset file may have, in order of preference when two share a stem. */
const PRESET_EXTENSIONS = [GRAPH_FILE_EXTENSION, '.json'];

type Source = PresetInfo['source'];

export interface PresetStoreOptions {
  examplesDir: string;
  /** Folder of the user's presets; created on first write. */
  userDir: string;
}

export class PresetStore {
  private readonly dirs: Record<Source, string>;

  constructor(opts: PresetStoreOptions) {
    this.dirs = { example: path.resolve(opts.examplesDir), user: path.resolve(opts.userDir) };
  }

  /** Examples first, then the user's presets; each group sorted by name. Unreadable files are skipped. */
  async list(): Promise<PresetInfo[]> {
    return [...this.listSource('example'), ...this.listSource('user')];
  }

  async read(id: string): Promise<GraphDocument> {
    return readGraphFile(this.fileOf(id));
  }

  /** Saves under a file stem derived from the name (overwriting a preset of the same stem). */
  async write(name: string, graph: unknown): Promise<PresetInfo> {
    const stem = presetFileStem(name);
    const doc = parseGraphValue(graph);
    const now = new Date().toISOString();
    const saved: GraphDocument = { ...doc, metadata: { ...doc.metadata, name: name.trim(), created: doc.metadata.created ?? now, modified: now } };
    makeDirsSync(this.dirs.user);
    // Another extension of the same stem would shadow or duplicate this one in the list.
    for (const ext of PRESET_EXTENSIONS.slice(1)) fs.rmSync(path.join(this.dirs.user, stem + ext), { force: true });
    writeGraphFile(path.join(this.dirs.user, stem + GRAPH_FILE_EXTENSION), saved);
    return info('user', stem, saved, now);
  }

  async delete(id: string): Promise<void> {
    const { source } = parseId(id);
    if (source === 'example') throw new BadRequestError(`Preset "${id}" is a shipped example and cannot be deleted`);
    fs.rmSync(this.fileOf(id));
  }

  private fileOf(id: string): string {
    const { source, stem } = parseId(id);
    for (const ext of PRESET_EXTENSIONS) {
      const file = path.join(this.dirs[source], stem + ext);
      if (fs.existsSync(file)) return file;
    }
    throw new NotFoundError(`No preset "${id}"`);
  }

  private listSource(source: Source): PresetInfo[] {
    const dir = this.dirs[source];
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return []; // no user presets yet
    }
    const byStem = new Map<string, string>();
    for (const ext of PRESET_EXTENSIONS) {
      for (const n of names) {
        const stem = n.slice(0, -ext.length);
        if (n.endsWith(ext) && isPlainFileStem(stem) && !byStem.has(stem)) byStem.set(stem, path.join(dir, n));
      }
    }
    const out: PresetInfo[] = [];
    for (const [stem, file] of byStem) {
      try {
        out.push(info(source, stem, readGraphFile(file), fs.statSync(file).mtime.toISOString()));
      } catch {
        // an unreadable or invalid file is not a preset; the library stays usable
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}

function parseId(id: unknown): { source: Source; stem: string } {
  const m = typeof id === 'string' ? /^(example|user):(.+)$/s.exec(id) : null;
  if (!m || !isPlainFileStem(m[2])) {
    throw new BadRequestError(`Invalid preset id ${JSON.stringify(id)} (expected "example:<name>" or "user:<name>")`);
  }
  return { source: m[1] as Source, stem: m[2] };
}

function info(source: Source, stem: string, doc: GraphDocument, modified: string): PresetInfo {
  return {
    id: `${source}:${stem}`,
    name: doc.metadata.name && doc.metadata.name !== 'Untitled' ? doc.metadata.name : stem,
    source,
    description: doc.metadata.description,
    tags: doc.metadata.tags,
    modified: doc.metadata.modified ?? modified,
  };
}
