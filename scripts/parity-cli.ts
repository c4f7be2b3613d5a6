/** Runs a graph file through the `flowstudio` CLI, as the parity checks' prepare scripts (and the external acceptance suite) do. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin/flowstudio.js');

/** `flowstudio run <graph> --out <outDir> --read <readDir> --quiet`; resolves to the error's last line, or null on success. */
export function runGraphCli(graphFile: string, outDir: string, readDir: string): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'run', graphFile, '--out', outDir, '--read', readDir, '--quiet'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve(code === 0 ? null : (stderr.trim().split('\n').pop() ?? `exit ${code}`)));
  });
}
