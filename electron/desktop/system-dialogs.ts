/**
 * The desktop transport's own calls (DesktopAPI, desktop-api.ts): the system's file dialogs and file
 * manager. What the user picks in a system dialog is their choice, so its folder is granted (graph roots,
 * read roots, the engine's reads); arguments from the page are checked, and showInFolder shows only files
 * the app may read anyway.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { App, BrowserWindow, Dialog, OpenDialogOptions, Shell } from 'electron';
import type { AppBackend } from '../engine/app-backend.ts';
import { BadRequestError } from '../engine/app/errors.ts';
import { GRAPH_EXTENSIONS, GraphFiles } from '../engine/app/graph-files.ts';
import type { DesktopMethod } from './desktop-api.ts';
import type { ExtraCall } from './ipc-dispatch.ts';

export interface SystemDialogDeps {
  app: Pick<App, 'getPath'>;
  dialog: Pick<Dialog, 'showOpenDialog' | 'showSaveDialog'>;
  shell: Pick<Shell, 'showItemInFolder'>;
  backend: AppBackend;
  /** The window of the page that asked (the dialog is attached to it). */
  windowOf(sender: number): BrowserWindow | undefined;
}

export function systemDialogCalls({ app, dialog, shell, backend, windowOf }: SystemDialogDeps): Record<DesktopMethod, ExtraCall> {
  return {
    chooseGraphFile: (callArgs, sender) => chooseGraphFile(callArgs, windowOf(sender)),
    chooseInputFile: (callArgs, sender) => chooseInputFile(callArgs, windowOf(sender)),
    showInFolder: async (callArgs) => {
      const [file] = callArgs;
      if (callArgs.length !== 1 || typeof file !== 'string') throw new BadRequestError('showInFolder takes the path of a file');
      // Only what the app may read anyway: a page cannot probe the disk through the file manager.
      shell.showItemInFolder(backend.resolveRead(file));
    },
  };

  /** chooseGraphFile: the system dialog, attached to the asking window. */
  async function chooseGraphFile(callArgs: unknown[], win: BrowserWindow | undefined): Promise<string | null> {
    const [mode, suggested] = callArgs;
    if (callArgs.length < 1 || callArgs.length > 2 || (mode !== 'open' && mode !== 'save') || (suggested !== undefined && typeof suggested !== 'string')) {
      throw new BadRequestError('chooseGraphFile takes "open" or "save", and optionally a suggested path');
    }
    const filters = [{ name: 'FlowStudio graph', extensions: GRAPH_EXTENSIONS.map((e) => e.slice(1)) }];
    if (mode === 'open') {
      const real = await openOne(win, { title: 'Open graph', properties: ['openFile'], filters });
      if (real) backend.allowGraphFolder(path.dirname(real));
      return real;
    }
    const defaultPath = suggested === undefined ? undefined : path.isAbsolute(suggested) ? suggested : path.join(app.getPath('documents'), path.basename(suggested));
    const options = { title: 'Save graph as', defaultPath, filters };
    const result = win ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
    if (result.canceled || !result.filePath) return null;
    const file = GraphFiles.isGraphPath(result.filePath) ? result.filePath : `${result.filePath}${GRAPH_EXTENSIONS[0]}`;
    backend.allowGraphFolder(path.dirname(file));
    return file;
  }

  /** chooseInputFile: a node's input file, or a model folder. */
  async function chooseInputFile(callArgs: unknown[], win: BrowserWindow | undefined): Promise<string | null> {
    const [kind, extensions] = callArgs;
    const extensionList = Array.isArray(extensions) && extensions.every((e) => typeof e === 'string' && /^\.[\w.-]{1,16}$/.test(e)) ? (extensions as string[]) : undefined;
    if (callArgs.length < 1 || callArgs.length > 2 || !['image', 'latent', 'model', 'any'].includes(kind as string) || (extensions !== undefined && !extensionList)) {
      throw new BadRequestError('chooseInputFile takes a kind (image, latent, model or any) and optionally a list of extensions such as ".png"');
    }
    const folder = kind === 'model';
    const real = await openOne(win, {
      title: folder ? 'Choose a model folder' : 'Choose a file',
      properties: [folder ? 'openDirectory' : 'openFile'],
      filters: !folder && extensionList?.length ? [{ name: extensionList.join(', '), extensions: extensionList.map((e) => e.slice(1)) }] : undefined,
    });
    // The containing folder: a model folder itself is not inside a root named by itself.
    if (real) backend.allowReadFolder(path.dirname(real));
    return real;
  }

  /** The system's open dialog (attached to `win` when there is one): the real path picked, or null. */
  async function openOne(win: BrowserWindow | undefined, options: OpenDialogOptions): Promise<string | null> {
    const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
    const chosen = result.canceled ? undefined : result.filePaths[0];
    return chosen ? fs.realpathSync(chosen) : null;
  }
}
