/**
 * The desktop menu's commands (electron/desktop/commands.ts), run as the toolbar and the shortcuts run
 * them. Edit commands act on a focused text field the browser's way, and on the graph otherwise.
 * On macOS a menu shortcut may reach both the page's key handler and the menu: the first menu command
 * that repeats what the keyboard ran within SAME_ACTION_MS is taken for that echo and skipped.
 */
import { useEffect } from 'react';
import { isAppCommand, type AppCommand } from '../../../electron/desktop/commands.ts';
import type { AppController } from './controller/app-controller.ts';
import { isEditable } from './editable.ts';

/** A key shortcut and a menu item for the same command within this window are one action. */
const SAME_ACTION_MS = 150;
let lastByKey: { command: AppCommand; at: number } | undefined;

/** shortcuts.ts calls this when a key ran a command that the menu also has. */
export function noteKeyCommand(command: AppCommand): void {
  lastByKey = { command, at: performance.now() };
}

export function runAppCommand(controller: AppController, command: AppCommand): void {
  if (lastByKey?.command === command && performance.now() - lastByKey.at < SAME_ACTION_MS) {
    // One key press has at most one echo: the next menu command runs.
    lastByKey = undefined;
    return;
  }
  const field = isEditable(document.activeElement);
  const { session } = controller;
  const docs = controller.docs;
  switch (command) {
    case 'new':
      return docs.guard(() => docs.newDocument(), 'Start a new graph');
    case 'open':
      return void docs.showOpen();
    case 'save':
      return void docs.save();
    case 'save-as':
      return session.setState({ dialog: { kind: 'save-as' } });
    case 'export-png':
      return void docs.exportPng();
    case 'undo':
      return field ? void document.execCommand('undo') : controller.undo();
    case 'redo':
      return field ? void document.execCommand('redo') : controller.redo();
    case 'duplicate':
      return field ? undefined : controller.duplicate();
    case 'select-all':
      return field ? void document.execCommand('selectAll') : controller.store.getState().selectAll();
    case 'group':
      return controller.groupSelection();
    case 'fit-view':
      return controller.canvas?.fitView();
    case 'add-node':
      return void controller.canvas?.openPalette();
    case 'run':
      return controller.run();
    case 'run-to-selected':
      return controller.runToSelected();
    case 'cancel':
      return void controller.runs.cancelAll();
    case 'check-files':
      return void controller.docs.reportMissingFiles({ asked: true });
    case 'free-memory':
      return void controller.runs.freeMemory();
    case 'unload-models':
      return void controller.runs.freeMemory(true);
    case 'restart-engine':
      return void controller.runs.restartEngine();
    case 'system':
      return session.setState({ dialog: { kind: 'system' } });
  }
}

/** Runs the commands the transport delivers (the desktop menu); a browser tab has none. */
export function useAppCommands(controller: AppController): void {
  useEffect(() => {
    return controller.client.onCommand?.((command) => {
      if (isAppCommand(command)) runAppCommand(controller, command);
    });
  }, [controller]);
}
