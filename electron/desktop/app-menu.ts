/**
 * The desktop window's menu bar. Items that act on the graph send a command to the focused editor
 * (commands.ts), which runs it as its toolbar does. Their shortcuts are shown but, on Windows and Linux,
 * not registered: the editor's own key handling (renderer/src/ui/shortcuts.ts) stays the one place that
 * decides what a key does, in fields and on the canvas. Clipboard items keep Electron's roles: they fire the
 * DOM copy/cut/paste events the editor listens to, and text fields need them on macOS.
 */
import type { MenuItemConstructorOptions } from 'electron';
import type { AppCommand } from './commands.ts';

export interface MenuOptions {
  platform: NodeJS.Platform;
  /** Sends a command to the focused editor window (none: nothing happens). */
  send(command: AppCommand): void;
  /** Developer items (reload, developer tools): when run from a checkout, not an installed app. */
  developer: boolean;
}

export function appMenuTemplate({ platform, send, developer }: MenuOptions): MenuItemConstructorOptions[] {
  const mac = platform === 'darwin';
  const item = (label: string, command: AppCommand, accelerator?: string): MenuItemConstructorOptions => ({
    label,
    click: () => send(command),
    ...(accelerator ? { accelerator, registerAccelerator: false } : {}),
  });
  const separator: MenuItemConstructorOptions = { type: 'separator' };

  return [
    ...(mac ? [{ role: 'appMenu' } as MenuItemConstructorOptions] : []),
    {
      label: 'File',
      submenu: [
        item('New Graph', 'new'),
        item('Open…', 'open', 'CmdOrCtrl+O'),
        separator,
        item('Save', 'save', 'CmdOrCtrl+S'),
        item('Save As…', 'save-as', 'CmdOrCtrl+Shift+S'),
        item('Check Missing Files…', 'check-files'),
        item('Export PNG with Graph', 'export-png'),
        ...(mac ? [] : [separator, { role: 'quit' } as MenuItemConstructorOptions]),
      ],
    },
    {
      label: 'Edit',
      submenu: [
        item('Undo', 'undo', 'CmdOrCtrl+Z'),
        item('Redo', 'redo', mac ? 'Shift+Cmd+Z' : 'Ctrl+Y'),
        separator,
        { role: 'cut' },
        { role: 'copy' },
        { role: 'paste' },
        item('Duplicate', 'duplicate', 'CmdOrCtrl+D'),
        item('Select All', 'select-all', 'CmdOrCtrl+A'),
        separator,
        // Tab and F act on the canvas only (in a field they move focus or type): no menu accelerator for them.
        item('Add Node… (Tab)', 'add-node'),
        item('Group Selection', 'group', 'CmdOrCtrl+G'),
      ],
    },
    {
      label: 'Run',
      submenu: [
        item('Run', 'run', 'CmdOrCtrl+Enter'),
        item('Run to Selected', 'run-to-selected', 'CmdOrCtrl+Shift+Enter'),
        item('Cancel', 'cancel'),
        separator,
        item('Free Memory', 'free-memory'),
        item('Unload Models', 'unload-models'),
        item('Restart Engine', 'restart-engine'),
        item('System…', 'system'),
      ],
    },
    {
      label: 'View',
      submenu: [
        item('Fit Graph (F)', 'fit-view'),
        separator,
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        separator,
        { role: 'togglefullscreen' },
        ...(developer ? [separator, { role: 'reload' } as MenuItemConstructorOptions, { role: 'toggleDevTools' } as MenuItemConstructorOptions] : []),
      ],
    },
    ...(mac ? [{ role: 'windowMenu' } as MenuItemConstructorOptions] : []),
  ];
}
