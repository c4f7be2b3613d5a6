/**
 * A small list kept as a JSON array in the data dir, newest first, capped, written atomically: the
 * recent files, the engine's crashes. A missing, damaged or foreign file reads as an empty list (these
 * are conveniences and logs, not the user's work), and entries of the wrong shape are skipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../../nodes/core/io/atomic-write.ts';
import { makeDirs } from '../make-dirs.ts';

export class CappedJsonList<T> {
  /** Updates are chained so two quick ones cannot lose each other's entry. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly max: number,
    private readonly isEntry: (value: unknown) => value is T,
  ) {}

  /** Newest first. */
  async list(): Promise<T[]> {
    await this.queue;
    return this.load();
  }

  /** Puts `entry` first, dropping the older entries `replaces` matches, and keeps the newest `max`. */
  add(entry: T, replaces: (older: T) => boolean = () => false): Promise<void> {
    const next = this.queue.then(async () => {
      const entries = [entry, ...this.load().filter((e) => !replaces(e))].slice(0, this.max);
      await makeDirs(path.dirname(this.file));
      await writeFileAtomic(this.file, Buffer.from(JSON.stringify(entries, null, 2) + '\n', 'utf8'));
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private load(): T[] {
    try {
      const raw: unknown = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      return Array.isArray(raw) ? raw.filter(this.isEntry) : [];
    } catch {
      return [];
    }
  }
}
