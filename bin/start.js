#!/usr/bin/env node
// `npm start`: the editor. Until the desktop window lands, this serves it on 127.0.0.1 in the browser:
// builds the renderer when renderer/dist is missing or older than its sources, then `flowstudio serve`.
// Arguments are passed on (`npm start -- --port 5171 --open`).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rendererDir = path.join(root, 'renderer');
const viteConfig = path.join(rendererDir, 'vite.config.ts');
const builtIndex = path.join(rendererDir, 'dist', 'index.html');
/** Sources whose changes need a rebuild (the renderer imports engine types and pure node code too). */
const SOURCE_DIRS = [rendererDir, path.join(root, 'shaders'), path.join(root, 'nodes', 'core')];
const SKIP = new Set(['dist', 'node_modules']);

const electron = usableElectron();
if (electron) console.error(`Electron found (${electron}); the desktop window is not wired up yet, serving the editor in the browser.`);

if (needsBuild()) await buildRenderer();

register();
const { main } = await import('../electron/cli/main.ts');
process.exitCode = await main(['serve', ...process.argv.slice(2)]);

/** The binary named by node_modules/electron/path.txt, when both exist. */
function usableElectron() {
  const dir = path.join(root, 'node_modules', 'electron');
  try {
    const binary = path.join(dir, 'dist', fs.readFileSync(path.join(dir, 'path.txt'), 'utf8').trim());
    return fs.existsSync(binary) ? binary : undefined;
  } catch {
    return undefined;
  }
}

function needsBuild() {
  let built;
  try {
    built = fs.statSync(builtIndex).mtimeMs;
  } catch {
    return true;
  }
  return SOURCE_DIRS.some((dir) => newestMtime(dir) > built);
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
