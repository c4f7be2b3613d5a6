/**
 * AppClient over the Electron preload bridge (`window.flowstudio`, electron/desktop/preload.cjs): one
 * `invoke` per AppAPI method (ipcRenderer.invoke underneath), answered with a WireReply, and an event feed
 * whose previews arrive structured-cloned as {dims, data}. Replies carry failures as values because an
 * Error crossing IPC and the context bridge keeps only its message.
 */
import type { DesktopMethod } from '../../../electron/desktop/desktop-api.ts';
import { fromWireEvent, type WireEvent, type WireReply } from '../../../electron/engine/wire-messages.ts';
import type { AppAPI, AppClient, AppMethod, EngineEventListener, GraphError } from './app-client.ts';
import { EngineRequestError } from './app-client.ts';

/** An engine event after structured clone: the preview tensor is plain data. */
export type BridgeEvent = WireEvent;

/** What the preload exposes as `window.flowstudio`. */
export interface FlowStudioBridge {
  invoke(method: AppMethod | DesktopMethod, ...args: unknown[]): Promise<WireReply>;
  onEvent(listener: (event: BridgeEvent) => void): () => void;
  /** The desktop menu's commands (electron/desktop/commands.ts). */
  onCommand?(listener: (command: string) => void): () => void;
}

export function createBridgeClient(bridge: FlowStudioBridge): AppClient {
  const listeners = new Set<EngineEventListener>();
  let off: (() => void) | undefined;
  const ensureFeed = () => {
    off ??= bridge.onEvent((e) => {
      const event = fromWireEvent(e);
      for (const l of listeners) {
        try {
          l(event);
        } catch {
          // one broken view must not starve the others
        }
      }
    });
  };
  // Failures keep their name and structured errors, the same as over the HTTP transport.
  const call = async (method: AppMethod | DesktopMethod, args: unknown[]): Promise<unknown> => {
    const reply = await bridge.invoke(method, ...args);
    if (reply.ok) return reply.value;
    const errors = Array.isArray(reply.error.errors) ? (reply.error.errors as GraphError[]) : undefined;
    throw new EngineRequestError(reply.error.name, reply.error.message, undefined, errors);
  };
  const invoke = <M extends AppMethod>(method: M, ...args: Parameters<AppAPI[M]>) => call(method, args) as Promise<Awaited<ReturnType<AppAPI[M]>>>;

  return {
    ...(bridge.onCommand ? { onCommand: (listener: (command: string) => void) => bridge.onCommand!(listener) } : {}),
    connection: 'open',
    chooseGraphFile: (mode, suggestedPath) => call('chooseGraphFile', suggestedPath === undefined ? [mode] : [mode, suggestedPath]) as Promise<string | null>,
    showInFolder: (file) => call('showInFolder', [file]) as Promise<void>,
    chooseInputFile: (kind, extensions) => call('chooseInputFile', extensions === undefined ? [kind] : [kind, extensions]) as Promise<string | null>,
    onConnectionChange: () => () => undefined,
    close: () => {
      off?.();
      off = undefined;
      listeners.clear();
    },
    subscribe(listener) {
      listeners.add(listener);
      ensureFeed();
      return () => listeners.delete(listener);
    },
    listNodeTypes: () => invoke('listNodeTypes'),
    listModels: () => invoke('listModels'),
    validate: (graph) => invoke('validate', graph),
    checkFiles: (graph) => invoke('checkFiles', graph),
    run: (request) => invoke('run', request),
    cancel: (runId) => invoke('cancel', runId),
    listPresets: () => invoke('listPresets'),
    readPreset: (id) => invoke('readPreset', id),
    writePreset: (name, graph) => invoke('writePreset', name, graph),
    deletePreset: (id) => invoke('deletePreset', id),
    readAutosave: () => invoke('readAutosave'),
    writeAutosave: (graph) => invoke('writeAutosave', graph),
    openGraphFile: (path) => invoke('openGraphFile', path),
    saveGraphFile: (path, graph) => invoke('saveGraphFile', path, graph),
    listRecentFiles: () => invoke('listRecentFiles'),
    readFile: (path) => invoke('readFile', path),
    modelHashes: (refs) => invoke('modelHashes', refs),
    listFiles: (opts) => invoke('listFiles', opts),
    takeOpenRequests: () => invoke('takeOpenRequests'),
    // Float32Arrays cross IPC by structured clone: nothing to decode.
    readOutput: (runId, nodeId, port) => invoke('readOutput', runId, nodeId, port),
    freeMemory: (request) => invoke('freeMemory', request),
    restartEngine: () => invoke('restartEngine'),
    memoryStatus: () => invoke('memoryStatus'),
    systemInfo: () => invoke('systemInfo'),
  };
}
