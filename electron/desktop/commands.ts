/**
 * Commands the desktop menu sends to the editor (webContents.send(COMMAND_CHANNEL, id)). Pure data, shared
 * by the main process (app-menu.ts) and the renderer (renderer/src/ui/app-commands.ts), which runs each the
 * way its toolbar button or shortcut does.
 */
export const COMMAND_CHANNEL = 'flowstudio:command';

export const APP_COMMANDS = [
  'new',
  'open',
  'save',
  'save-as',
  'export-png',
  'undo',
  'redo',
  'duplicate',
  'select-all',
  'group',
  'fit-view',
  'add-node',
  'run',
  'run-to-selected',
  'cancel',
  'check-files',
  'free-memory',
  'unload-models',
  'restart-engine',
  'system',
] as const;

export type AppCommand = (typeof APP_COMMANDS)[number];

export function isAppCommand(value: unknown): value is AppCommand {
  return typeof value === 'string' && (APP_COMMANDS as readonly string[]).includes(value);
}
