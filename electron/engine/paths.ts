/** Where FlowStudio keeps generated models, spilled cache entries and default outputs. */
import os from 'node:os';
import path from 'node:path';

export function defaultCacheDir(): string {
  if (process.env.FLOWSTUDIO_CACHE_DIR) return path.resolve(process.env.FLOWSTUDIO_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'flowstudio');
}

/** The repository (or installed app) root: examples/ and nodes/ live here. */
export const APP_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const EXAMPLES_DIR = path.join(APP_ROOT, 'examples');
