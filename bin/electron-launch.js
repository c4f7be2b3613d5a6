// Finding and starting Electron for `npm start`. Plain JS: it runs before tsx is registered.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The Electron binary to open the desktop window with: FLOWSTUDIO_ELECTRON when set (a system-wide
 * Electron), else the one the electron package downloaded (node_modules/electron/path.txt names it, under
 * dist/ or under ELECTRON_OVERRIDE_DIST_PATH as the package itself honours). Undefined when none exists:
 * the package downloads its binary only on request (`npm run setup:desktop`), which needs network access.
 */
export function findElectron(root, env = process.env) {
  if (env.FLOWSTUDIO_ELECTRON) return fs.existsSync(env.FLOWSTUDIO_ELECTRON) ? env.FLOWSTUDIO_ELECTRON : undefined;
  const dir = path.join(root, 'node_modules', 'electron');
  let name;
  try {
    name = fs.readFileSync(path.join(dir, 'path.txt'), 'utf8').trim();
  } catch {
    name = undefined;
  }
  const binary = env.ELECTRON_OVERRIDE_DIST_PATH
    ? path.join(env.ELECTRON_OVERRIDE_DIST_PATH, name || 'electron')
    : name && path.join(dir, 'dist', name);
  return binary && fs.existsSync(binary) ? binary : undefined;
}

/**
 * Runs the desktop app (package.json "main" of `root`) with `args`; resolves with Electron's exit code,
 * or with 'not-started' when the binary could not be started at all (the caller serves in the browser).
 * Ctrl+C and SIGTERM go on to Electron, which closes the engine before it exits.
 */
export function runElectron(binary, root, args, env = process.env) {
  const childEnv = { ...env };
  // Set by some tools; it would make Electron run our entry as a plain Node script.
  delete childEnv.ELECTRON_RUN_AS_NODE;
  return new Promise((resolve) => {
    const child = spawn(binary, [root, ...args], { stdio: 'inherit', env: childEnv });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const done = (result) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(result);
    };
    child.once('error', (e) => {
      console.error(`flowstudio: could not start Electron (${binary}): ${e.message}`);
      done('not-started');
    });
    child.once('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}
