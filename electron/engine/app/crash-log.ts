/**
 * The engine's crashes, kept across sessions for bug reports: `engine-crashes.json` in the data dir,
 * newest first, the last MAX_CRASHES_KEPT.
 */
import type { EngineCrash } from '../api.ts';
import { CappedJsonList } from './capped-json-list.ts';

export const MAX_CRASHES_KEPT = 50;
export const CRASH_LOG_NAME = 'engine-crashes.json';

const isCrash = (c: unknown): c is EngineCrash => typeof c === 'object' && c !== null && typeof (c as EngineCrash).at === 'string' && typeof (c as EngineCrash).cause === 'string';

export class CrashLog extends CappedJsonList<EngineCrash> {
  constructor(file: string) {
    super(file, MAX_CRASHES_KEPT, isCrash);
  }

  /** What the app gives WorkerEngine as onCrash: says the crash in a log line and keeps it here. */
  reporter(log: (line: string) => void): (crash: EngineCrash) => void {
    return (crash) => {
      log(`flowstudio: ${crash.cause}; a fresh engine starts with the next request (logged in ${this.file})`);
      void this.add(crash).catch(() => undefined);
    };
  }
}
