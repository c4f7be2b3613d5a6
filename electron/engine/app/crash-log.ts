/**
 * The engine's crashes, kept across sessions for bug reports: a small JSON list in the data dir
 * (`engine-crashes.json`), newest first, capped, written atomically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../../nodes/core/io/atomic-write.ts';
import type { EngineCrash } from '../api.ts';
import { makeDirs } from '../make-dirs.ts';

export const MAX_CRASHES_KEPT = 50;
export const CRASH_LOG_NAME = 'engine-crashes.json';

export class CrashLog {
  /** Writes are chained so two crashes in a row cannot lose each other's entry. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  /** Newest first. */
  async list(): Promise<EngineCrash[]> {
    await this.queue;
    return this.load();
  }

  add(crash: EngineCrash): Promise<void> {
    const next = this.queue.then(async () => {
      const crashes = [crash, ...this.load()].slice(0, MAX_CRASHES_KEPT);
      await makeDirs(path.dirname(this.file));
      await writeFileAtomic(this.file, Buffer.from(JSON.stringify(crashes, null, 2) + '\n', 'utf8'));
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** A damaged or foreign file reads as no crashes (it is a log, not the user's work). */
  private load(): EngineCrash[] {
    try {
      const raw: unknown = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      if (!Array.isArray(raw)) return [];
      return raw.filter((c): c is EngineCrash => typeof c === 'object' && c !== null && typeof c.at === 'string' && typeof c.cause === 'string');
    } catch {
      return [];
    }
  }
}
