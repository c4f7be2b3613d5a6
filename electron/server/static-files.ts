/**
 * The built renderer (staticDir). GET / serves index.html with the launch token injected as
 * `<meta name="flowstudio-token">`: only a page loaded from this origin can read it, and the Host check
 * stops DNS-rebinding pages from loading it as their own. Paths are confined to staticDir (no `..`,
 * no encoded separators, no symlinks pointing out).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import { contentTypeOf } from './content-types.ts';
import { HttpError, sendBytes, sendNoContent } from './http-io.ts';

export const TOKEN_META_NAME = 'flowstudio-token';

export class StaticFiles {
  private readonly root: string;

  constructor(staticDir: string) {
    this.root = path.resolve(staticDir);
  }

  /** Sends the file for a URL path (already split from its query), or throws an HttpError (403/404). */
  serve(res: ServerResponse, pathname: string, token: string, headOnly: boolean): void {
    const file = this.file(pathname);
    if (file === null) {
      sendNoContent(res);
      return;
    }
    const bytes = file.path === 'index.html' ? Buffer.from(injectToken(file.bytes.toString('utf8'), token), 'utf8') : file.bytes;
    sendBytes(res, bytes, file.contentType, headOnly);
  }

  /**
   * The file for a URL path: its path relative to the root, bytes and content type; null for a favicon the
   * build does not have (browsers ask for it unprompted, and a 404 would be a console error in every
   * session). Throws an HttpError (400/403/404). The desktop window's app:// protocol serves through it too.
   */
  file(pathname: string): { path: string; bytes: Buffer; contentType: string } | null {
    const rel = this.relativePath(pathname);
    if (rel === 'favicon.ico' && !fs.existsSync(path.join(this.root, rel))) return null;
    return { path: rel, bytes: this.read(rel, pathname), contentType: contentTypeOf(rel) };
  }

  /** URL path -> path relative to the root; refuses anything that could climb out. */
  private relativePath(pathname: string): string {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      throw new HttpError(400, 'BadRequestError', `Malformed URL path "${pathname}"`);
    }
    const segments = decoded.split('/').filter((s) => s !== '');
    if (decoded.includes('\0') || decoded.includes('\\') || segments.some((s) => s === '..' || s === '.')) {
      throw new HttpError(403, 'Forbidden', `Path "${pathname}" is outside the app's files`);
    }
    return segments.length === 0 ? 'index.html' : segments.join('/');
  }

  private read(rel: string, pathname: string): Buffer {
    const notFound = () => new HttpError(404, 'NotFoundError', `No file at "${pathname}"`);
    let real: string;
    let realRoot: string;
    try {
      realRoot = fs.realpathSync(this.root);
      real = fs.realpathSync(path.join(this.root, rel));
    } catch {
      if (rel === 'index.html') {
        throw new HttpError(404, 'NotFoundError', `The editor is not built: no index.html in "${this.root}" (run \`npm start\`, which builds it)`);
      }
      throw notFound();
    }
    const inside = path.relative(realRoot, real);
    if (inside === '' || inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
      throw new HttpError(403, 'Forbidden', `Path "${pathname}" is outside the app's files`);
    }
    if (!fs.statSync(real).isFile()) throw notFound();
    return fs.readFileSync(real);
  }
}

/** Adds the token meta tag at the end of <head> (charset stays first), else at the start of the document. */
export function injectToken(html: string, token: string): string {
  const meta = `<meta name="${TOKEN_META_NAME}" content="${token.replace(/[^A-Za-z0-9_-]/g, '')}">`;
  const end = html.search(/<\/head\s*>/i);
  if (end >= 0) return html.slice(0, end) + meta + html.slice(end);
  const head = /<head(\s[^>]*)?>/i.exec(html);
  if (!head) return meta + html;
  const at = head.index + head[0].length;
  return html.slice(0, at) + meta + html.slice(at);
}
