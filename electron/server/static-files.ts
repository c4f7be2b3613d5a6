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
    const rel = this.relativePath(pathname);
    if (rel === 'favicon.ico' && !fs.existsSync(path.join(this.root, rel))) {
      // Browsers ask for it unprompted; a 404 would be a console error in every session.
      sendNoContent(res);
      return;
    }
    if (rel === 'index.html') {
      const html = this.read('index.html', pathname).toString('utf8');
      sendBytes(res, Buffer.from(injectToken(html, token), 'utf8'), contentTypeOf('index.html'), headOnly);
      return;
    }
    sendBytes(res, this.read(rel, pathname), contentTypeOf(rel), headOnly);
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
