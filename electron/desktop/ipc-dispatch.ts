/**
 * The main-process side of the Electron IPC transport: one `invoke` channel carrying (method, ...args)
 * for every AppAPI method, answered with a WireReply. Arguments come from a renderer, i.e. from web
 * content: each method's are checked here for shape (as the HTTP routes check bodies), the backend checks
 * their meaning. Runs are remembered per sender, so a window that closes or reloads cancels its runs,
 * as a disconnecting browser tab does with the local server.
 */
import { randomUUID } from 'node:crypto';
import type { AppAPI, AppMethod } from '../engine/app-api.ts';
import { BadRequestError } from '../engine/app/errors.ts';
import { parseRunRequest } from '../engine/app/run-request.ts';
import { MAX_NESTING, tooDeep } from '../engine/graph/parse.ts';
import { toWireError, type WireReply } from '../engine/wire-messages.ts';

/** A graph allows MAX_NESTING levels; the argument list and a request object add a few. */
const MAX_ARG_NESTING = MAX_NESTING + 8;

type Call = (api: AppAPI, args: unknown[], sender: number) => Promise<unknown>;
/** A transport's own calls beyond the AppAPI (the desktop's file dialogs), checked by their own code. */
export type ExtraCall = (args: unknown[], sender: number) => Promise<unknown>;

export interface IpcDispatcher {
  /** Runs one call for the renderer `sender` (its webContents id); never throws: failures are replies. */
  dispatch(sender: number, method: unknown, args: unknown[]): Promise<WireReply>;
  /** Cancels the runs `sender` started that are still going (window closed, reloaded or crashed). */
  cancelRunsOf(sender: number): Promise<void>;
  /** Cancels every run started over IPC. */
  cancelAll(): Promise<void>;
  /** Resolves once every call in flight now has been answered (quitting waits for an autosave to land). */
  idle(): Promise<void>;
  /** The runs going per sender (tests, diagnostics). */
  runsOf(sender: number): string[];
}

export function createIpcDispatcher(api: AppAPI, extra: Record<string, ExtraCall> = {}): IpcDispatcher {
  const runs = new Map<number, Set<string>>();
  const inFlight = new Set<Promise<WireReply>>();

  const run: Call = async (a, args, sender) => {
    arity('run', args, 1);
    const request = parseRunRequest(args[0]);
    const runId = request.runId ?? randomUUID();
    let mine = runs.get(sender);
    if (!mine) runs.set(sender, (mine = new Set()));
    mine.add(runId);
    try {
      return await a.run({ ...request, runId });
    } finally {
      mine.delete(runId);
      if (mine.size === 0 && runs.get(sender) === mine) runs.delete(sender);
    }
  };

  const calls: Record<AppMethod, Call> = {
    listNodeTypes: (a, args) => (arity('listNodeTypes', args, 0), a.listNodeTypes()),
    listModels: (a, args) => (arity('listModels', args, 0), a.listModels()),
    validate: (a, args) => (arity('validate', args, 1), a.validate(present('validate', args[0], 'graph'))),
    checkFiles: (a, args) => (arity('checkFiles', args, 1), a.checkFiles(present('checkFiles', args[0], 'graph'))),
    run,
    cancel: (a, args) => (arity('cancel', args, 1), a.cancel(text('cancel', args[0], 'runId'))),
    readOutput: (a, args) => (arity('readOutput', args, 3), a.readOutput(text('readOutput', args[0], 'runId'), text('readOutput', args[1], 'nodeId'), text('readOutput', args[2], 'port'))),
    // The engine checks the options, from every transport alike.
    freeMemory: (a, args) => (arity('freeMemory', args, 0, 1), a.freeMemory(args[0] as Parameters<AppAPI['freeMemory']>[0])),
    memoryStatus: (a, args) => (arity('memoryStatus', args, 0), a.memoryStatus()),
    systemInfo: (a, args) => (arity('systemInfo', args, 0), a.systemInfo()),
    listPresets: (a, args) => (arity('listPresets', args, 0), a.listPresets()),
    readPreset: (a, args) => (arity('readPreset', args, 1), a.readPreset(text('readPreset', args[0], 'id'))),
    writePreset: (a, args) => (arity('writePreset', args, 2), a.writePreset(text('writePreset', args[0], 'name'), present('writePreset', args[1], 'graph'))),
    deletePreset: (a, args) => (arity('deletePreset', args, 1), a.deletePreset(text('deletePreset', args[0], 'id'))),
    readAutosave: (a, args) => (arity('readAutosave', args, 0), a.readAutosave()),
    writeAutosave: (a, args) => (arity('writeAutosave', args, 1), a.writeAutosave(present('writeAutosave', args[0], 'graph'))),
    openGraphFile: (a, args) => (arity('openGraphFile', args, 1), a.openGraphFile(text('openGraphFile', args[0], 'path'))),
    saveGraphFile: (a, args) => (arity('saveGraphFile', args, 2), a.saveGraphFile(text('saveGraphFile', args[0], 'path'), present('saveGraphFile', args[1], 'graph'))),
    listRecentFiles: (a, args) => (arity('listRecentFiles', args, 0), a.listRecentFiles()),
    readFile: (a, args) => (arity('readFile', args, 1), a.readFile(text('readFile', args[0], 'path'))),
    modelHashes: (a, args) => (arity('modelHashes', args, 1), a.modelHashes(textList('modelHashes', args[0], 'refs'))),
    // The backend checks the options' values.
    listFiles: (a, args) => (arity('listFiles', args, 1), a.listFiles(args[0] as Parameters<AppAPI['listFiles']>[0])),
    takeOpenRequests: (a, args) => (arity('takeOpenRequests', args, 0), a.takeOpenRequests()),
    restartEngine: (a, args) => (arity('restartEngine', args, 0), a.restartEngine()),
  };

  const answer = async (sender: number, method: unknown, args: unknown[]): Promise<WireReply> => {
    try {
      const known = typeof method === 'string' && (Object.hasOwn(calls, method) || Object.hasOwn(extra, method));
      if (!known) throw new BadRequestError(`Unknown engine method ${JSON.stringify(method)}`);
      if (!Array.isArray(args)) throw new BadRequestError(`${method}: arguments must be a list`);
      // As the HTTP server does for bodies: deeper values overflow the stack of code that copies them on (the worker's structured clone).
      if (tooDeep(args, MAX_ARG_NESTING)) throw new BadRequestError(`${method}: arguments are nested more than ${MAX_ARG_NESTING} levels deep`);
      const value = Object.hasOwn(calls, method) ? await calls[method as AppMethod](api, args, sender) : await extra[method as string](args, sender);
      return { ok: true, value };
    } catch (e) {
      return { ok: false, error: toWireError(e) };
    }
  };
  const cancel = (ids: Iterable<string>) => Promise.all([...ids].map((id) => api.cancel(id).catch(() => false))).then(() => undefined);

  return {
    dispatch(sender, method, args) {
      const reply = answer(sender, method, args);
      inFlight.add(reply);
      void reply.finally(() => inFlight.delete(reply));
      return reply;
    },
    cancelRunsOf: (sender) => cancel(runs.get(sender) ?? []),
    cancelAll: () => cancel([...runs.values()].flatMap((ids) => [...ids])),
    idle: () => Promise.allSettled([...inFlight]).then(() => undefined),
    runsOf: (sender) => [...(runs.get(sender) ?? [])],
  };
}

function arity(method: string, args: unknown[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw new BadRequestError(`${method} takes ${want} argument${max === 1 ? '' : 's'}, got ${args.length}`);
  }
}

function present(method: string, value: unknown, name: string): unknown {
  if (value === undefined) throw new BadRequestError(`${method}: "${name}" is missing`);
  return value;
}

function text(method: string, value: unknown, name: string): string {
  if (typeof value !== 'string') throw new BadRequestError(`${method}: "${name}" must be a string`);
  return value;
}

function textList(method: string, value: unknown, name: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new BadRequestError(`${method}: "${name}" must be a list of strings`);
  return value;
}
