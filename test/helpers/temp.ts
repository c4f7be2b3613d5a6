/**
 * Temporary folders for tests, removed after each test file (test/setup/temp-dirs.ts) so that a test
 * run leaves nothing behind in the user's temp folder. Kept free of engine imports: every test file
 * loads it through the setup file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

/** A fresh folder under `parent` (the OS temp folder), removed once the current test file has finished. */
export function tempDir(prefix = 'fs-test-', parent = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(parent, prefix));
  made.push(dir);
  return dir;
}

/** Removes every folder tempDir made in this test file. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
