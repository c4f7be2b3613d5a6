// Electron's main entry (package.json "main"). CommonJS on purpose: a privileged scheme must be registered
// synchronously while the app starts, before Chromium sets up its schemes, and an ES module entry (or
// anything after an await) runs too late for that to be guaranteed.
'use strict';
const electron = require('electron');
const { app, protocol } = electron;
const { APP_SCHEME_PRIVILEGES } = require('./app-scheme.cjs');

protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);

// The rest is TypeScript, run through tsx's loader as the CLI is. It gets the Electron module from here:
// the built-in 'electron' is resolved by CommonJS require, never through the loader's hooks.
require('tsx/esm/api').register();
import('./main.ts')
  .then((main) => main.start(electron))
  .catch((e) => {
    console.error(`flowstudio: the desktop app did not start: ${e && e.stack ? e.stack : e}`);
    app.exit(2);
  });
