/** The recently opened/saved graph files: a small JSON list in the data dir, newest first, capped. */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../../nodes/core/io/atomic-write.ts';
import type { RecentFile } from '../app-api.ts';
import { makeDirs } from '../make-dirs.ts';

export const MAX_RECENT_FILES = 20;

export class RecentFiles {
  /** Updates are chained so two quick opens cannot lose each other's entry. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly file: string) {}

  /** Entries whose file still exists. */
  async list(): Promise<RecentFile[]> {
    await this.queue;
    return this.load().filter((f) => fs.existsSync(f.path));
  }

  /** Moves `file` to the front (deduplicated by path). */
  add(file: string): Promise<void> {
    const next = this.queue.then(async () => {
      const entry: RecentFile = { path: file, name: path.basename(file), openedAt: new Date().toISOString() };
      const files = [entry, ...this.load().filter((f) => f.path !== file)].slice(0, MAX_RECENT_FILES);
      await makeDirs(path.dirname(this.file));
      await writeFileAtomic(this.file, Buffer.from(JSON.stringify(files, null, 2) + '\n', 'utf8'));
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private load(): RecentFile[] {
    try {
      const raw: unknown = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      if (!Array.isArray(raw)) return [];
      return raw.filter(
        (f): f is RecentFile =>
          typeof f === 'object' && f !== null && typeof f.path === 'string' && typeof f.name === 'string' && typeof f.openedAt === 'string',
      );
    } catch {
      return []; // missing or corrupt: start a new list
    }
  }
}
