/**
 * app://flowstudio/: the desktop window's pages, served from the built renderer. A privileged standard
 * scheme rather than file:// gives the page a real origin ('self' in the CSP means the app's own files,
 * not every file on the disk) and lets the same path checks as the local server's apply: no `..`, no
 * encoded separators, no symlinks out of the build folder.
 */
import { HttpError } from '../server/http-io.ts';
import { StaticFiles } from '../server/static-files.ts';
import { APP_HOST, APP_SCHEME } from './channels.ts';

/**
 * The window's Content-Security-Policy: the app's own scripts only, no network at all (the engine is
 * reached by IPC), images from the app, blobs (outputs) and data URLs, blob workers for the debug views.
 */
export function desktopContentSecurityPolicy(): string {
  return [
    "default-src 'self'",
    "connect-src 'self'",
    "img-src 'self' blob: data:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** What `protocol.registerSchemesAsPrivileged` gets, at startup (entry.cjs registers it). */
export { APP_SCHEME_PRIVILEGES } from './app-scheme.cjs';

const HEADERS = {
  'Content-Security-Policy': desktopContentSecurityPolicy(),
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

/** The handler for `protocol.handle(APP_SCHEME, ...)`: a fetch Request in, a Response out, never a throw. */
export function createAppProtocolHandler(staticDir: string): (request: Request) => Promise<Response> {
  const files = new StaticFiles(staticDir);
  return async (request) => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return errorResponse(400, `Malformed URL "${request.url}"`);
    }
    if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return errorResponse(404, `No app file at ${request.url}`);
    if (request.method !== 'GET' && request.method !== 'HEAD') return errorResponse(405, `${request.method} is not allowed on app files`);
    try {
      const file = files.file(url.pathname);
      if (file === null) return new Response(null, { status: 204, headers: HEADERS });
      // readFileSync's Buffer sits on a plain ArrayBuffer.
      const body = request.method === 'HEAD' ? null : new Uint8Array(file.bytes.buffer as ArrayBuffer, file.bytes.byteOffset, file.bytes.byteLength);
      return new Response(body, { status: 200, headers: { ...HEADERS, 'Content-Type': file.contentType, 'Content-Length': String(file.bytes.byteLength) } });
    } catch (e) {
      return errorResponse(e instanceof HttpError ? e.status : 500, e instanceof Error ? e.message : String(e));
    }
  };
}

function errorResponse(status: number, message: string): Response {
  return new Response(message, { status, headers: { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8' } });
}
