// The desktop window's preload. Sandboxed: CommonJS, and only Electron's renderer modules can be required.
// It exposes `window.flowstudio` (renderer/src/engine/bridge-client.ts): a call per engine method and an
// event feed. Nothing else of ipcRenderer reaches the page, and the page cannot pick the channel.
'use strict';
const { contextBridge, ipcRenderer } = require('electron');

// The same names as electron/desktop/channels.ts (a test checks).
const INVOKE_CHANNEL = 'flowstudio:invoke';
const EVENT_CHANNEL = 'flowstudio:event';
// electron/desktop/commands.ts: the menu's commands.
const COMMAND_CHANNEL = 'flowstudio:command';

contextBridge.exposeInMainWorld('flowstudio', {
  /** Resolves to {ok: true, value} or {ok: false, error: {name, message, errors?}}; never rejects for an engine error. */
  invoke: (method, ...args) => ipcRenderer.invoke(INVOKE_CHANNEL, method, ...args),
  /** Calls `listener(event)` for each engine event; returns the function that stops it. */
  onEvent: (listener) => {
    if (typeof listener !== 'function') throw new TypeError('onEvent needs a function');
    const relay = (_event, engineEvent) => listener(engineEvent);
    ipcRenderer.on(EVENT_CHANNEL, relay);
    return () => ipcRenderer.removeListener(EVENT_CHANNEL, relay);
  },
  /** Calls `listener(command)` for each menu command (a string); returns the function that stops it. */
  onCommand: (listener) => {
    if (typeof listener !== 'function') throw new TypeError('onCommand needs a function');
    const relay = (_event, command) => {
      if (typeof command === 'string') listener(command);
    };
    ipcRenderer.on(COMMAND_CHANNEL, relay);
    return () => ipcRenderer.removeListener(COMMAND_CHANNEL, relay);
  },
});
