/**
 * The JSON API: one route per AppAPI method. Bodies and query params are checked here (shape only);
 * the backend checks meaning (graphs, names, paths). A route's result is sent as JSON, except
 * `bytes` (raw file contents) and `undefined` (204 No Content).
 */
import { randomUUID } from 'node:crypto';
import type { AppAPI, ListFilesOptions } from '../engine/app-api.ts';
import type { FreeMemoryRequest, RunRequest } from '../engine/api.ts';
import { parseRunRequest } from '../engine/app/run-request.ts';
import { contentTypeOf } from './content-types.ts';
import { HttpError } from './http-io.ts';
import { encodeOutputFrame } from './output-frame.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteInput {
  /** The parsed JSON body (undefined when empty). */
  body: unknown;
  query: URLSearchParams;
  /** The decoded path remainder for routes declared with a trailing `*`. */
  rest: string;
  /** Fires when the client disconnects before the reply is sent. */
  clientGone?: AbortSignal;
}

export type RouteResult = { bytes: Uint8Array; contentType: string } | { json: unknown } | undefined;

export interface Route {
  method: HttpMethod;
  /** Exact path, or a prefix ending in `/*`. */
  path: string;
  handle(api: AppAPI, input: RouteInput): Promise<RouteResult>;
}

const json = async (value: Promise<unknown>): Promise<RouteResult> => ({ json: await value });
const none = async (value: Promise<unknown>): Promise<RouteResult> => {
  await value;
  return undefined;
};

/** Content type of GET /api/output bodies (format: ./output-frame.ts, docs/local-server.md). */
export const OUTPUT_FRAME_TYPE = 'application/x-flowstudio-output';

export const ROUTES: Route[] = [
  { method: 'GET', path: '/api/node-types', handle: (api) => json(api.listNodeTypes()) },
  { method: 'GET', path: '/api/models', handle: (api) => json(api.listModels()) },
  { method: 'POST', path: '/api/validate', handle: (api, { body }) => json(api.validate(field(body, 'graph', 'any'))) },
  { method: 'POST', path: '/api/check-files', handle: (api, { body }) => json(api.checkFiles(field(body, 'graph', 'any'))) },
  { method: 'POST', path: '/api/run', handle: (api, { body, clientGone }) => json(runUntilClientGone(api, parseRunRequest(body), clientGone)) },
  { method: 'POST', path: '/api/cancel', handle: (api, { body }) => json(api.cancel(field(body, 'runId', 'string'))) },
  // The engine checks the options (from every transport alike); an empty body frees everything.
  { method: 'GET', path: '/api/memory', handle: (api) => json(api.memoryStatus()) },
  { method: 'GET', path: '/api/system', handle: (api) => json(api.systemInfo()) },
  { method: 'POST', path: '/api/free-memory', handle: (api, { body }) => json(api.freeMemory(body as FreeMemoryRequest | undefined)) },
  { method: 'POST', path: '/api/restart-engine', handle: (api) => json(api.restartEngine()) },

  { method: 'GET', path: '/api/presets', handle: (api) => json(api.listPresets()) },
  {
    method: 'POST',
    path: '/api/presets',
    handle: (api, { body }) => json(api.writePreset(field(body, 'name', 'string'), field(body, 'graph', 'any'))),
  },
  { method: 'GET', path: '/api/presets/*', handle: (api, { rest }) => json(api.readPreset(rest)) },
  { method: 'DELETE', path: '/api/presets/*', handle: (api, { rest }) => none(api.deletePreset(rest)) },

  { method: 'GET', path: '/api/autosave', handle: (api) => json(api.readAutosave()) },
  { method: 'PUT', path: '/api/autosave', handle: (api, { body }) => none(api.writeAutosave(field(body, 'graph', 'any'))) },

  { method: 'POST', path: '/api/graph-files/open', handle: (api, { body }) => json(api.openGraphFile(field(body, 'path', 'string'))) },
  {
    method: 'POST',
    path: '/api/graph-files/save',
    handle: (api, { body }) => json(api.saveGraphFile(field(body, 'path', 'string'), field(body, 'graph', 'any'))),
  },
  { method: 'GET', path: '/api/recent-files', handle: (api) => json(api.listRecentFiles()) },
  // POST: taking the files the user opened from the system clears them.
  { method: 'POST', path: '/api/open-requests/take', handle: (api) => json(api.takeOpenRequests()) },

  {
    method: 'GET',
    path: '/api/file',
    handle: async (api, { query }) => {
      const file = query.get('path');
      if (!file) throw badRequest('GET /api/file needs a ?path= query parameter');
      return { bytes: await api.readFile(file), contentType: contentTypeOf(file) };
    },
  },
  {
    method: 'GET',
    path: '/api/output',
    handle: async (api, { query }) => {
      const [runId, node, port] = ['runId', 'node', 'port'].map((k) => query.get(k));
      if (!runId || !node || !port) throw badRequest('GET /api/output needs ?runId=, ?node= and ?port= query parameters');
      const value = await api.readOutput(runId, node, port);
      // 204: the run is no longer kept or has no such output (not an error: the views show "not available").
      return value === null ? undefined : { bytes: encodeOutputFrame(value), contentType: OUTPUT_FRAME_TYPE };
    },
  },
  {
    method: 'GET',
    path: '/api/files',
    handle: (api, { query }) => {
      const kind = query.get('kind');
      if (!kind) throw badRequest('GET /api/files needs a ?kind= query parameter (image, latent, model or any)');
      const ext = query.getAll('ext');
      // The backend checks the values; here only their presence.
      return json(api.listFiles({ kind: kind as ListFilesOptions['kind'], extensions: ext.length ? ext : undefined }));
    },
  },
  {
    method: 'POST',
    path: '/api/model-hashes',
    handle: (api, { body }) => {
      const refs = field(body, 'refs', 'any');
      if (!Array.isArray(refs)) throw badRequest('"refs" must be an array of model refs');
      return json(api.modelHashes(refs as string[]));
    },
  },
];

/** The route for a path: `route` when one matches the method, else the methods the path allows (for 405). */
export function findRoute(method: string, pathname: string): { route: Route; rest: string } | { allowed: HttpMethod[] } {
  const allowed: HttpMethod[] = [];
  // Exact paths win over prefixes (GET /api/presets vs GET /api/presets/<id>).
  for (const exact of [true, false]) {
    for (const route of ROUTES) {
      const rest = matchPath(route.path, pathname, exact);
      if (rest === undefined) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, rest };
      allowed.push(route.method);
    }
  }
  return { allowed: [...new Set(allowed)] };
}

function matchPath(pattern: string, pathname: string, exact: boolean): string | undefined {
  if (exact) return pattern === pathname ? '' : undefined;
  if (!pattern.endsWith('/*')) return undefined;
  const prefix = pattern.slice(0, -1);
  if (!pathname.startsWith(prefix) || pathname.length === prefix.length) return undefined;
  try {
    return decodeURIComponent(pathname.slice(prefix.length));
  } catch {
    throw badRequest(`Malformed URL path "${pathname}"`);
  }
}

function badRequest(message: string): HttpError {
  return new HttpError(400, 'BadRequestError', message);
}

function field(body: unknown, name: string, kind: 'string'): string;
function field(body: unknown, name: string, kind: 'any'): unknown;
function field(body: unknown, name: string, kind: 'string' | 'any'): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest(`Request body must be a JSON object with "${name}"`);
  const value = (body as Record<string, unknown>)[name];
  if (value === undefined) throw badRequest(`Request body is missing "${name}"`);
  if (kind === 'string' && typeof value !== 'string') throw badRequest(`"${name}" must be a string`);
  return value;
}

/** Runs, cancelling the run if the client that asked for it disconnects first. */
async function runUntilClientGone(api: AppAPI, request: RunRequest, clientGone?: AbortSignal) {
  const runId = request.runId ?? randomUUID();
  const onGone = () => void api.cancel(runId);
  clientGone?.addEventListener('abort', onGone, { once: true });
  try {
    return await api.run({ ...request, runId });
  } finally {
    clientGone?.removeEventListener('abort', onGone);
  }
}
