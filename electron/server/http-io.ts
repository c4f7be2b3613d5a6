/** Request bodies in, JSON and bytes out, errors as {error: {name, message, errors?}} with a fitting status. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_NESTING, tooDeep } from '../engine/graph/parse.ts';
import { reviveNonFinite, toWireJson } from '../engine/wire-json.ts';

/** Largest request body accepted (graph documents are small; this leaves room for big embedded data). */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Deepest nesting accepted in a body: a graph allows MAX_NESTING, and a body wraps it once or twice. */
export const MAX_BODY_NESTING = MAX_NESTING + 8;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    name: string,
    message: string,
  ) {
    super(message);
    this.name = name;
  }
}

/** Reads and parses a JSON body; an empty body is undefined. */
export async function readJsonBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new HttpError(415, 'UnsupportedMediaType', `Request body must be application/json (got "${type || 'no content type'}")`);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new HttpError(400, 'BadRequestError', `Request body is not valid JSON: ${(e as Error).message}`);
  }
  // JSON.parse builds values deeper than the engine worker's structured clone (or any recursive code) can take.
  if (tooDeep(body, MAX_BODY_NESTING)) throw new HttpError(400, 'BadRequestError', `Request body is nested more than ${MAX_BODY_NESTING} levels deep`);
  // Non-finite numbers as the transport writes them (wire-json.ts), once the depth is known to be safe.
  return reviveNonFinite(body);
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, 'PayloadTooLarge', `Request body is larger than ${maxBytes} bytes`);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = Buffer.from(toWireJson(value), 'utf8');
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
  res.end(body);
}

export function sendBytes(res: ServerResponse, bytes: Uint8Array, contentType: string, headOnly = false): void {
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': bytes.byteLength, 'Cache-Control': 'no-store' });
  res.end(headOnly ? undefined : bytes);
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204, { 'Cache-Control': 'no-store' });
  res.end();
}

/** HTTP status for an error thrown by a route or the backend, chosen by the error's name (which survives the worker thread). */
export function statusOf(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  const name = (e as { name?: unknown })?.name;
  switch (name) {
    case 'GraphValidationError':
    case 'BadRequestError':
      return 400;
    case 'NotFoundError':
      return 404;
    case 'FileAccessError':
      return /^File not found/.test((e as Error).message) ? 404 : 403;
    default:
      return 500;
  }
}

export function sendError(res: ServerResponse, e: unknown, headers: Record<string, string> = {}): void {
  const err = e as { name?: unknown; message?: unknown; errors?: unknown };
  const status = statusOf(e);
  const body: { name: string; message: string; errors?: unknown } = {
    name: typeof err?.name === 'string' ? err.name : 'Error',
    message: typeof err?.message === 'string' ? err.message : String(e),
  };
  if (Array.isArray(err?.errors)) body.errors = err.errors;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // An oversized body was not read to its end: close the connection rather than drain it.
  sendJson(res, status, { error: body }, status === 413 ? { ...headers, Connection: 'close' } : headers);
}
