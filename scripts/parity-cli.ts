/** Runs a graph file through the `flowstudio` CLI, as the parity checks' prepare scripts (and the external acceptance suite) do. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin/flowstudio.js');

/**
 * `flowstudio run <graph> --out <outDir> --read <readDir> --quiet`; resolves to null on success, else the run's
 * error: the JSON summary's message (stdout), else the last stderr line, else the exit code. (--quiet leaves
 * stderr empty on a failed run, so the summary is where the reason is.)
 */
export function runGraphCli(graphFile: string, outDir: string, readDir: string): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'run', graphFile, '--out', outDir, '--read', readDir, '--quiet'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve(code === 0 ? null : failureReason(stdout, stderr, code)));
  });
}

function failureReason(stdout: string, stderr: string, code: number | null): string {
  try {
    const summary = JSON.parse(stdout) as { error?: { message?: string }; errors?: { message?: string }[] };
    const message = summary.error?.message ?? summary.errors?.map((e) => e.message).join('; ');
    if (message) return message;
  } catch {
    // not a summary: fall through
  }
  return stderr.trim().split('\n').pop() || `exit ${code}`;
}
