/**
 * AppClient over the Electron preload bridge (`window.flowstudio`). The desktop issue writes the
 * preload; this fixes the shape it must expose: one `invoke` per AppAPI method (ipcRenderer.invoke
 * underneath) and an event feed whose previews arrive structured-cloned as {dims, data}.
 */
import { Tensor } from '../../../nodes/core/tensor.ts';
import type { AppAPI, AppClient, EngineEvent, EngineEventListener } from './app-client.ts';
import { EngineRequestError } from './app-client.ts';

/** Every AppAPI method except subscribe (events come through onEvent). */
export type AppMethod = Exclude<keyof AppAPI, 'subscribe'>;

/** An engine event after structured clone: the preview tensor is plain data. */
export type BridgeEvent =
  | Exclude<EngineEvent, { type: 'node-preview' }>
  | (Omit<Extract<EngineEvent, { type: 'node-preview' }>, 'preview'> & { preview: { dims: number[]; data: Float32Array } });

/** What the preload exposes as `window.flowstudio`. */
export interface FlowStudioBridge {
  invoke<M extends AppMethod>(method: M, ...args: Parameters<AppAPI[M]>): ReturnType<AppAPI[M]>;
  onEvent(listener: (event: BridgeEvent) => void): () => void;
}

export function createBridgeClient(bridge: FlowStudioBridge): AppClient {
  const listeners = new Set<EngineEventListener>();
  let off: (() => void) | undefined;
  const ensureFeed = () => {
    off ??= bridge.onEvent((e) => {
      const event: EngineEvent = e.type === 'node-preview' ? { ...e, preview: new Tensor(e.preview.dims, e.preview.data) } : e;
      for (const l of listeners) {
        try {
          l(event);
        } catch {
          // one broken view must not starve the others
        }
      }
    });
  };
  // IPC errors lose their class; keep the name and structured errors the same as the HTTP transport.
  const invoke = async <M extends AppMethod>(method: M, ...args: Parameters<AppAPI[M]>): Promise<Awaited<ReturnType<AppAPI[M]>>> => {
    try {
      return await bridge.invoke(method, ...args);
    } catch (e) {
      const err = e as { name?: string; message?: string; errors?: [] };
      throw new EngineRequestError(err.name ?? 'Error', err.message ?? String(e), undefined, err.errors);
    }
  };

  return {
    connection: 'open',
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
    // Float32Arrays cross IPC by structured clone: nothing to decode.
    readOutput: (runId, nodeId, port) => invoke('readOutput', runId, nodeId, port),
    freeMemory: (request) => invoke('freeMemory', request),
    memoryStatus: () => invoke('memoryStatus'),
    systemInfo: () => invoke('systemInfo'),
  };
}
