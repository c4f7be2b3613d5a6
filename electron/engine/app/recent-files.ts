/** The recently opened/saved graph files: a small JSON list in the data dir, newest first, capped. */
import fs from 'node:fs';
import path from 'node:path';
import type { RecentFile } from '../app-api.ts';
import { CappedJsonList } from './capped-json-list.ts';

export const MAX_RECENT_FILES = 20;

const isRecentFile = (f: unknown): f is RecentFile => {
  const r = f as RecentFile | null;
  return typeof r === 'object' && r !== null && typeof r.path === 'string' && typeof r.name === 'string' && typeof r.openedAt === 'string';
};

export class RecentFiles {
  private readonly entries: CappedJsonList<RecentFile>;

  constructor(file: string) {
    this.entries = new CappedJsonList(file, MAX_RECENT_FILES, isRecentFile);
  }

  /** Entries whose file still exists. */
  async list(): Promise<RecentFile[]> {
    return (await this.entries.list()).filter((f) => fs.existsSync(f.path));
  }

  /** Moves `file` to the front (deduplicated by path). */
  add(file: string): Promise<void> {
    return this.entries.add({ path: file, name: path.basename(file), openedAt: new Date().toISOString() }, (older) => older.path === file);
  }
}
