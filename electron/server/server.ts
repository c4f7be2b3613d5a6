/**
 * The local server: the AppAPI over HTTP (JSON routes under /api), engine events over a WebSocket
 * (/api/events) and the built renderer as static files. Loopback only, one random token per launch,
 * Host and Origin checked on every request and upgrade. docs/local-server.md describes the protocol.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AppAPI } from '../engine/app-api.ts';
import { EventStream } from './event-stream.ts';
import { HttpError, readJsonBody, sendBytes, sendError, sendJson, sendNoContent } from './http-io.ts';
import { findRoute } from './routes.ts';
import {
  bearerToken,
  checkTokenShape,
  hostAllowed,
  newToken,
  originAllowed,
  protocolToken,
  sameToken,
  securityHeaders,
} from './security.ts';
import { StaticFiles } from './static-files.ts';

export const LOOPBACK_HOST = '127.0.0.1';
export const EVENTS_PATH = '/api/events';

export interface ServerOptions {
  backend: AppAPI;
  /** Only '127.0.0.1' is accepted: the server is never reachable from another machine. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The built renderer (index.html and assets). */
  staticDir: string;
  /** Fixed token (tests); default: 32 random bytes, base64url. */
  token?: string;
}

export interface RunningServer {
  /** http://127.0.0.1:<port>/ */
  url: string;
  port: number;
  token: string;
  /** The underlying server (for address checks). */
  http: http.Server;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? LOOPBACK_HOST;
  if (host !== LOOPBACK_HOST) {
    throw new Error(`The FlowStudio server only listens on ${LOOPBACK_HOST} (refusing host "${host}": it would expose the engine and your files to other machines)`);
  }
  const requestedPort = opts.port ?? 0;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new Error(`Invalid port ${opts.port}: expected an integer from 0 to 65535`);
  }
  const token = opts.token ?? newToken();
  checkTokenShape(token);

  const files = new StaticFiles(opts.staticDir);
  const events = new EventStream(opts.backend);
  let port = requestedPort;

  const server = http.createServer((req, res) => {
    handleRequest(req, res).catch((e) => sendError(res, e, securityHeaders(port)));
  });

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers = securityHeaders(port);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (!hostAllowed(req, port)) throw new HttpError(403, 'Forbidden', `Host "${req.headers.host ?? ''}" is not this server`);
    if (!originAllowed(req, port)) throw new HttpError(403, 'Forbidden', `Origin "${req.headers.origin}" may not use this server`);
    const url = new URL(req.url ?? '/', `http://${LOOPBACK_HOST}:${port}`);
    const method = req.method ?? 'GET';

    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
      if (!sameToken(bearerToken(req), token)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new HttpError(401, 'Unauthorized', 'Missing or wrong token (send "Authorization: Bearer <token>")');
      }
      const found = findRoute(method, url.pathname);
      if ('allowed' in found) {
        if (found.allowed.length === 0) throw new HttpError(404, 'NotFoundError', `No API route ${url.pathname}`);
        res.setHeader('Allow', found.allowed.join(', '));
        throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed on ${url.pathname} (allowed: ${found.allowed.join(', ')})`);
      }
      const body = await readJsonBody(req);
      // Aborted when the client goes away before the reply (a closed tab must not leave its run going).
      const gone = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) gone.abort();
      });
      const result = await found.route.handle(opts.backend, { body, query: url.searchParams, rest: found.rest, clientGone: gone.signal });
      if (result === undefined) sendNoContent(res);
      else if ('bytes' in result) sendBytes(res, result.bytes, result.contentType, method === 'HEAD');
      else sendJson(res, 200, result.json);
      return;
    }

    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed on static files`);
    }
    files.serve(res, url.pathname, token, method === 'HEAD');
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: number, name: string, message: string) => rejectUpgrade(socket, status, name, message);
    const pathname = new URL(req.url ?? '/', `http://${LOOPBACK_HOST}:${port}`).pathname;
    if (!hostAllowed(req, port)) return refuse(403, 'Forbidden', `Host "${req.headers.host ?? ''}" is not this server`);
    if (!originAllowed(req, port)) return refuse(403, 'Forbidden', `Origin "${req.headers.origin}" may not use this server`);
    if (pathname !== EVENTS_PATH) return refuse(404, 'NotFoundError', `No WebSocket at ${pathname} (use ${EVENTS_PATH})`);
    if (!sameToken(protocolToken(req)?.token, token)) {
      return refuse(401, 'Unauthorized', 'Missing or wrong token (offer the subprotocol "flowstudio.<token>")');
    }
    events.accept(req, socket, head);
  });
  // Malformed requests: answer 400 and drop the socket instead of crashing or hanging.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: LOOPBACK_HOST, port: requestedPort }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://${LOOPBACK_HOST}:${port}/`,
    port,
    token,
    http: server,
    async close() {
      events.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function rejectUpgrade(socket: Duplex, status: number, name: string, message: string): void {
  const body = JSON.stringify({ error: { name, message } });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
      'Connection: close\r\nContent-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
