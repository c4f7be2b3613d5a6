/**
 * AppClient over the local server: JSON calls with fetch (token in the Authorization header) and the
 * event stream over a WebSocket (token as the subprotocol "flowstudio.<token>"). docs/local-server.md.
 */
import { fromWireJson, toWireJson } from '../../../electron/engine/wire-json.ts';
import type { AppClient, ConnectionState, EngineEventListener, GraphError, RunRequest } from './app-client.ts';
import { EngineRequestError } from './app-client.ts';
import { EventSocket, type WebSocketFactory } from './event-socket.ts';
import { decodeOutputFrame } from './output-frame.ts';

export interface HttpClientOptions {
  /** The server's origin, e.g. "http://127.0.0.1:5171" (location.origin in the page). */
  baseUrl: string;
  token: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Defaults to the global WebSocket (pass the `ws` package's in Node). */
  WebSocket?: WebSocketFactory;
  /** How long run() waits for the event stream to open so no early event is missed. */
  eventsOpenTimeoutMs?: number;
  onEventError?: (error: Error) => void;
}

export function createHttpClient(opts: HttpClientOptions): AppClient {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const WebSocketImpl = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
  if (!WebSocketImpl) throw new Error('createHttpClient: no WebSocket implementation (pass one in options.WebSocket)');
  const events = new EventSocket({
    url: `${base.replace(/^http/, 'ws')}/api/events`,
    protocols: [`flowstudio.${opts.token}`],
    WebSocket: WebSocketImpl,
    onError: opts.onEventError,
  });

  async function send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${opts.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await doFetch(base + path, { method, headers, body: body === undefined ? undefined : toWireJson(body) });
    if (!res.ok) throw await errorOf(res, method, path);
    return res;
  }

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await send(method, path, body);
    return (res.status === 204 ? undefined : fromWireJson(await res.text())) as T;
  }

  const presetPath = (id: string) => `/api/presets/${encodeURIComponent(id)}`;

  return {
    get connection(): ConnectionState {
      return events.state;
    },
    onConnectionChange: (listener) => events.onState(listener),
    close: () => events.close(),
    subscribe: (listener: EngineEventListener) => events.subscribe(listener),

    listNodeTypes: () => call('GET', '/api/node-types'),
    listModels: () => call('GET', '/api/models'),
    validate: (graph) => call('POST', '/api/validate', { graph }),
    checkFiles: (graph) => call('POST', '/api/check-files', { graph }),
    async run(request: RunRequest) {
      // Subscribers expect run-started and the first previews: wait (briefly) for the stream first.
      if (events.hasListeners) await events.whenOpen(opts.eventsOpenTimeoutMs ?? 3000);
      return call('POST', '/api/run', { ...request, runId: request.runId ?? newRunId() });
    },
    cancel: (runId) => call('POST', '/api/cancel', { runId }),
    freeMemory: (request) => call('POST', '/api/free-memory', request ?? {}),
    restartEngine: () => call('POST', '/api/restart-engine', {}),
    memoryStatus: () => call('GET', '/api/memory'),
    systemInfo: () => call('GET', '/api/system'),

    listPresets: () => call('GET', '/api/presets'),
    readPreset: (id) => call('GET', presetPath(id)),
    writePreset: (name, graph) => call('POST', '/api/presets', { name, graph }),
    deletePreset: (id) => call('DELETE', presetPath(id)),

    readAutosave: () => call('GET', '/api/autosave'),
    writeAutosave: (graph) => call('PUT', '/api/autosave', { graph }),

    openGraphFile: (path) => call('POST', '/api/graph-files/open', { path }),
    saveGraphFile: (path, graph) => call('POST', '/api/graph-files/save', { path, graph }),
    listRecentFiles: () => call('GET', '/api/recent-files'),

    async readFile(path) {
      const res = await send('GET', `/api/file?path=${encodeURIComponent(path)}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    async readOutput(runId, node, port) {
      const res = await send('GET', `/api/output?${new URLSearchParams({ runId, node, port }).toString()}`);
      // 204: that run is no longer kept, or has no such output.
      return res.status === 204 ? null : decodeOutputFrame(await res.arrayBuffer());
    },
    modelHashes: (refs) => call('POST', '/api/model-hashes', { refs }),
    takeOpenRequests: () => call('POST', '/api/open-requests/take'),
    listFiles(opts) {
      const query = new URLSearchParams({ kind: opts.kind });
      for (const ext of opts.extensions ?? []) query.append('ext', ext);
      return call('GET', `/api/files?${query.toString()}`);
    },
  };
}

async function errorOf(res: Response, method: string, path: string): Promise<EngineRequestError> {
  let body: { error?: { name?: unknown; message?: unknown; errors?: unknown } } | undefined;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const e = body?.error;
  const name = typeof e?.name === 'string' ? e.name : 'EngineRequestError';
  const message = typeof e?.message === 'string' ? e.message : `${method} ${path} failed: HTTP ${res.status} ${res.statusText}`;
  return new EngineRequestError(name, message, res.status, Array.isArray(e?.errors) ? (e.errors as GraphError[]) : undefined);
}

function newRunId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return c?.randomUUID ? c.randomUUID() : `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
