/** Where FlowStudio keeps the user's own data: presets, the autosaved working graph, recent files. */
import os from 'node:os';
import path from 'node:path';

/** FLOWSTUDIO_DATA_DIR, else $XDG_DATA_HOME/flowstudio, else ~/.local/share/flowstudio. */
export function defaultDataDir(): string {
  if (process.env.FLOWSTUDIO_DATA_DIR) return path.resolve(process.env.FLOWSTUDIO_DATA_DIR);
  const base = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'flowstudio');
}
