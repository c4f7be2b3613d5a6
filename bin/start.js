#!/usr/bin/env node
// `npm start`: the editor. Builds the renderer when renderer/dist is missing or older than its sources,
// then opens the desktop window where Electron is installed, else serves the editor on 127.0.0.1 for a
// browser (`flowstudio serve`). `--browser` serves it even where Electron is installed. Other arguments
// are passed on (`npm start -- --out renders`, `npm start -- --browser --port 5171 --open`).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';
import { findElectron, runElectron } from './electron-launch.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rendererDir = path.join(root, 'renderer');
const viteConfig = path.join(rendererDir, 'vite.config.ts');
const builtIndex = path.join(rendererDir, 'dist', 'index.html');
/** Sources whose changes need a rebuild (the renderer imports engine types and pure node code too). */
const SOURCE_DIRS = [rendererDir, path.join(root, 'shaders'), path.join(root, 'nodes', 'core'), path.join(root, 'electron', 'engine', 'graph')];
/** Main-process files the renderer bundles (the graph format above, the wire formats, the menu's commands). */
const SOURCE_FILES = [...['wire-json.ts', 'wire-messages.ts'].map((f) => path.join(root, 'electron', 'engine', f)), path.join(root, 'electron', 'desktop', 'commands.ts')];
const SKIP = new Set(['dist', 'node_modules']);

const args = process.argv.slice(2);
const browserOnly = args.includes('--browser');
const rest = args.filter((a) => a !== '--browser');

if (needsBuild()) await buildRenderer();

const electron = browserOnly ? undefined : findElectron(root);
const code = electron ? await runElectron(electron, root, rest) : 'not-started';
if (code === 'not-started') {
  if (!browserOnly && !electron) {
    console.error('Electron is not downloaded here (`npm run setup:desktop` fetches it, with network access): serving the editor for a browser.');
  }
  register();
  const { main } = await import('../electron/cli/main.ts');
  process.exitCode = await main(['serve', ...rest]);
} else {
  if (code !== 0) console.error(`flowstudio: the desktop app exited with code ${code}; \`npm start -- --browser\` serves the editor for a browser instead.`);
  process.exitCode = code;
}

function needsBuild() {
  let built;
  try {
    built = fs.statSync(builtIndex).mtimeMs;
  } catch {
    return true;
  }
  return SOURCE_DIRS.some((dir) => newestMtime(dir) > built) || SOURCE_FILES.some((f) => fs.existsSync(f) && fs.statSync(f).mtimeMs > built);
}

function newestMtime(dir) {
  let newest = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (SKIP.has(e.name) || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.isFile()) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

async function buildRenderer() {
  // The renderer's build config may still be on its way (it lands with the editor): wait for it a while.
  for (let waited = 0; !fs.existsSync(viteConfig); waited++) {
    if (waited === 0) console.error(`Waiting for ${path.relative(process.cwd(), viteConfig)} ...`);
    if (waited >= 60) {
      console.error(`flowstudio: cannot build the editor: ${viteConfig} does not exist. \`npm run example\` runs the engine without it.`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.error('Building the editor (renderer/dist) ...');
  const { build } = await import('vite');
  try {
    await build({ configFile: viteConfig, logLevel: 'warn' });
  } catch (e) {
    console.error(`flowstudio: building the editor failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
