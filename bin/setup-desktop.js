#!/usr/bin/env node
// Opt-in: download Electron's binary, so `npm start` opens the desktop window (needs network access to
// Electron's release host). The electron package no longer downloads it at `npm install`, and the project
// installs offline without it: `npm start` then serves the editor for a browser.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findElectron } from './electron-launch.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const existing = findElectron(root);
if (existing) {
  console.log(`Electron is already here: ${existing}. \`npm start\` opens the desktop window.`);
  process.exit(0);
}
const require = createRequire(import.meta.url);
const script = path.join(path.dirname(require.resolve('electron/package.json')), 'install.js');
console.log(`Running ${script} (downloads Electron's binary for this platform)`);
const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
const installed = r.status === 0 ? findElectron(root) : undefined;
if (!installed) {
  console.error("Downloading Electron failed. It needs network access to Electron's release host; `npm start` serves the editor for a browser meanwhile.");
  process.exit(r.status || 1);
}
console.log(`Electron installed: ${installed}. \`npm start\` opens the desktop window now.`);
