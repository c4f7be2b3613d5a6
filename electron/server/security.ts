/**
 * What keeps other web pages and other programs' requests out of the local server:
 *  - a per-launch random token, required on every /api request and on the WebSocket upgrade;
 *  - the Host header must name 127.0.0.1 or localhost at our port (DNS rebinding: a foreign domain that
 *    resolves to 127.0.0.1 still carries its own name in Host);
 *  - an Origin header, when sent, must be our own origin (cross-site fetches and WebSockets).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Prefix of the WebSocket subprotocol that carries the token: `Sec-WebSocket-Protocol: flowstudio.<token>`. */
export const WS_PROTOCOL_PREFIX = 'flowstudio.';

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Tokens travel in a header and a subprotocol name, so they must be HTTP token characters. */
export function checkTokenShape(token: string): void {
  if (!/^[A-Za-z0-9_-]{16,}$/.test(token)) throw new Error('Server token must be at least 16 characters of [A-Za-z0-9_-]');
}

export function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** The token offered as a WebSocket subprotocol, and the protocol string to echo back. */
export function protocolToken(req: IncomingMessage): { token: string; protocol: string } | undefined {
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const protocol = offered.find((p) => p.startsWith(WS_PROTOCOL_PREFIX));
  return protocol ? { token: protocol.slice(WS_PROTOCOL_PREFIX.length), protocol } : undefined;
}

export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

export function allowedOrigins(port: number): string[] {
  return allowedHosts(port).map((h) => `http://${h}`);
}

export function hostAllowed(req: IncomingMessage, port: number): boolean {
  const host = req.headers.host?.toLowerCase();
  return host !== undefined && allowedHosts(port).includes(host);
}

/** Requests without an Origin (same-origin GETs, non-browser clients) pass; a present one must be ours. */
export function originAllowed(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  return origin === undefined || allowedOrigins(port).includes(origin.toLowerCase());
}

export function contentSecurityPolicy(port: number): string {
  return [
    "default-src 'self'",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "img-src 'self' blob: data:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "worker-src 'self' blob:",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers on every response, API and static alike. */
export function securityHeaders(port: number): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(port),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
}
