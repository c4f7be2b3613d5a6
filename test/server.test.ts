/**
 * The local server end to end: the real engine in its worker thread behind AppBackend, HTTP and
 * WebSocket from Node (the renderer's own HTTP client with the `ws` package as its WebSocket), plus
 * raw requests for the security checks (token, Host, Origin, path escapes).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { memoryOptions, serveCommand } from '../electron/cli/serve.ts';
import { APP_ROOT } from '../electron/engine/paths.ts';
import { parseByteSize, parseCount } from '../electron/cli/args.ts';
import type { RunSummary } from '../electron/engine/api.ts';
import { AppBackend } from '../electron/engine/app-backend.ts';
import { Engine } from '../electron/engine/engine.ts';
import type { EngineEvent } from '../electron/engine/events.ts';
import { readGraphFile, serializeGraph } from '../electron/engine/graph/io.ts';
import type { GraphDocument } from '../electron/engine/graph/schema.ts';
import { EXAMPLES_DIR } from '../electron/engine/paths.ts';
import { WorkerEngine } from '../electron/engine/worker/worker-client.ts';
import { encodePreviewFrame } from '../electron/server/preview-frame.ts';
import { ROUTES } from '../electron/server/routes.ts';
import { startServer, type RunningServer } from '../electron/server/server.ts';
import { createRng, randomGraph } from '../scripts/graph-fuzz/generate.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { EventSocket, type WebSocketLike } from '../renderer/src/engine/event-socket.ts';
import { createHttpClient } from '../renderer/src/engine/http-client.ts';
import { decodePreviewFrame } from '../renderer/src/engine/preview-frame.ts';
import { createEngineClient, type AppClient, type EngineRequestError, type FlowStudioBridge } from '../renderer/src/engine/index.ts';
import { graph, tempDir, testCacheDir } from './helpers/engine.ts';

let base: string;
let outDir: string;
let dataDir: string;
let staticDir: string;
let engine: WorkerEngine;
let backend: AppBackend;
let server: RunningServer;
let client: AppClient;
const SECRET = 'top-secret-contents';
const INDEX_HTML = '<!doctype html><html><head><meta charset="utf-8"><title>t</title></head><body>app</body></html>';

beforeAll(async () => {
  base = fs.realpathSync(tempDir('fs-server-'));
  outDir = path.join(base, 'out');
  dataDir = path.join(base, 'data');
  staticDir = path.join(base, 'static');
  fs.mkdirSync(path.join(staticDir, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(staticDir, 'index.html'), INDEX_HTML);
  fs.writeFileSync(path.join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  fs.writeFileSync(path.join(staticDir, 'assets', 'style.css'), 'body{}');
  fs.writeFileSync(path.join(base, 'secret.txt'), SECRET);
  fs.symlinkSync(path.join(base, 'secret.txt'), path.join(staticDir, 'assets', 'link-out.js'));
  engine = new WorkerEngine({ cacheDir: testCacheDir(), outDir, providers: ['cpu'] });
  backend = new AppBackend({ engine, outDir, dataDir });
  server = await startServer({ backend, host: '127.0.0.1', port: 0, staticDir });
  client = createHttpClient({ baseUrl: server.url, token: server.token, WebSocket: WebSocket as never });
});

afterAll(async () => {
  client?.close();
  await server?.close();
  await engine?.close();
  fs.rmSync(base, { recursive: true, force: true });
});

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with exactly these headers (Host included) and this raw path (no client-side normalization). */
function raw(opts: { method?: string; path: string; headers?: Record<string, string>; body?: string; auth?: boolean }): Promise<RawResponse> {
  const headers: Record<string, string> = { Host: `127.0.0.1:${server.port}`, ...(opts.headers ?? {}) };
  if (opts.auth !== false && !('Authorization' in headers)) headers.Authorization = `Bearer ${server.token}`;
  if (opts.body !== undefined) headers['Content-Type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, method: opts.method ?? 'GET', path: opts.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Opens a WebSocket to /api/events; resolves 'open' or the HTTP status the upgrade was refused with. */
function wsAttempt(opts: { protocols?: string[]; headers?: Record<string, string>; path?: string }): Promise<number | 'open'> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}${opts.path ?? '/api/events'}`, opts.protocols ?? [], { headers: opts.headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', () => undefined);
  });
}

const example = (): GraphDocument => readGraphFile(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json'));

async function rejection(p: Promise<unknown>): Promise<EngineRequestError> {
  try {
    await p;
  } catch (e) {
    return e as EngineRequestError;
  }
  throw new Error('expected a rejection');
}

describe('listening', () => {
  it('listens on 127.0.0.1 only and refuses any other host', async () => {
    const address = server.http.address() as AddressInfo;
    expect(address.address).toBe('127.0.0.1');
    expect(address.family).toBe('IPv4');
    expect(server.url).toBe(`http://127.0.0.1:${address.port}/`);
    for (const host of ['0.0.0.0', '::', 'localhost', '192.168.1.2']) {
      await expect(startServer({ backend, host, staticDir })).rejects.toThrow(/only listens on 127\.0\.0\.1/);
    }
  });

  it('generates a 32-byte base64url token per launch', async () => {
    expect(server.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const other = await startServer({ backend, staticDir });
    expect(other.token).not.toBe(server.token);
    await other.close();
  });
});

describe('token', () => {
  it('is required on every /api request (401 without it or with a wrong one)', async () => {
    const wrong = server.token.slice(0, -1) + (server.token.endsWith('A') ? 'B' : 'A');
    const attempts: Record<string, string>[] = [{}, { Authorization: `Bearer ${wrong}` }, { Authorization: 'Bearer' }, { Authorization: server.token }];
    for (const headers of attempts) {
      for (const p of ['/api/node-types', '/api/presets', '/api/file?path=x', '/api/nope']) {
        const res = await raw({ path: p, headers, auth: false });
        expect(res.status, `${p} ${JSON.stringify(headers)}`).toBe(401);
        expect(JSON.parse(res.body).error.name).toBe('Unauthorized');
      }
    }
    const ok = await raw({ path: '/api/node-types' });
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.body) as { type: string }[]).map((t) => t.type)).toContain('Sampler');
  });

  it('is required on the WebSocket upgrade, as the subprotocol flowstudio.<token>', async () => {
    expect(await wsAttempt({})).toBe(401);
    expect(await wsAttempt({ protocols: ['flowstudio.wrong-token-wrong-token'] })).toBe(401);
    expect(await wsAttempt({ protocols: [`other.${server.token}`] })).toBe(401);
    expect(await wsAttempt({ protocols: [`flowstudio.${server.token}`] })).toBe('open');
    expect(await wsAttempt({ protocols: [`flowstudio.${server.token}`], path: '/api/other' })).toBe(404);
  });
});

describe('DNS rebinding and cross-origin defence', () => {
  it('refuses a Host that is not 127.0.0.1:<port> or localhost:<port> (403), static files included', async () => {
    for (const host of ['evil.example', `evil.example:${server.port}`, `127.0.0.1:${server.port + 1}`, '127.0.0.1', `0.0.0.0:${server.port}`]) {
      for (const p of ['/', '/api/node-types']) {
        const res = await raw({ path: p, headers: { Host: host } });
        expect(res.status, `${host} ${p}`).toBe(403);
        expect(res.body).not.toContain(server.token);
      }
    }
    expect((await raw({ path: '/', headers: { Host: `localhost:${server.port}` } })).status).toBe(200);
    expect(await wsAttempt({ protocols: [`flowstudio.${server.token}`], headers: { Host: `evil.example:${server.port}` } })).toBe(403);
  });

  it('refuses a foreign Origin (403) on HTTP and on the upgrade, accepts its own', async () => {
    for (const origin of ['http://evil.example', `http://evil.example:${server.port}`, 'null', `https://127.0.0.1:${server.port}`]) {
      const res = await raw({ method: 'POST', path: '/api/validate', headers: { Origin: origin }, body: JSON.stringify({ graph: example() }) });
      expect(res.status, origin).toBe(403);
      expect(await wsAttempt({ protocols: [`flowstudio.${server.token}`], headers: { Origin: origin } })).toBe(403);
    }
    for (const origin of [`http://127.0.0.1:${server.port}`, `http://localhost:${server.port}`]) {
      const res = await raw({ method: 'POST', path: '/api/validate', headers: { Origin: origin }, body: JSON.stringify({ graph: example() }) });
      expect(res.status, origin).toBe(200);
      expect(JSON.parse(res.body)).toEqual([]);
      expect(await wsAttempt({ protocols: [`flowstudio.${server.token}`], headers: { Origin: origin } })).toBe('open');
    }
  });
});

describe('static files', () => {
  it('serves index.html with the token meta tag and the security headers', async () => {
    const res = await raw({ path: '/', auth: false });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain(`<title>t</title><meta name="flowstudio-token" content="${server.token}"></head>`);
    expect(res.body).toContain('<body>app</body>');
    const csp = res.headers['content-security-policy'] ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.port} ws://localhost:${server.port}`);
    expect(csp).toContain("img-src 'self' blob: data:");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain("script-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('serves assets with their content types', async () => {
    const js = await raw({ path: '/assets/app.js', auth: false });
    expect([js.status, js.headers['content-type'], js.body]).toEqual([200, 'text/javascript; charset=utf-8', 'console.log(1)']);
    const css = await raw({ path: '/assets/style.css', auth: false });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await raw({ path: '/assets/missing.js', auth: false })).status).toBe(404);
    expect((await raw({ method: 'POST', path: '/assets/app.js', auth: false })).status).toBe(405);
  });

  it('refuses path traversal and symlinks out of the static folder', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/assets/..%2f..%2fsecret.txt', '/assets%2f..%2f..%2fsecret.txt', '/..%5csecret.txt', '/assets/link-out.js', '/%00']) {
      const res = await raw({ path: p, auth: false });
      expect([400, 403, 404], p).toContain(res.status);
      expect(res.body, p).not.toContain(SECRET);
    }
  });
});

describe('API', () => {
  it('answers unknown routes 404, wrong methods 405, bad bodies 400/413/415', async () => {
    expect((await raw({ path: '/api/nope' })).status).toBe(404);
    const wrongMethod = await raw({ method: 'DELETE', path: '/api/run' });
    expect([wrongMethod.status, wrongMethod.headers.allow]).toEqual([405, 'POST']);
    const notJson = await raw({ method: 'POST', path: '/api/validate', body: '{ nope' });
    expect([notJson.status, JSON.parse(notJson.body).error.name]).toEqual([400, 'BadRequestError']);
    const missing = await raw({ method: 'POST', path: '/api/validate', body: '{}' });
    expect(JSON.parse(missing.body).error.message).toContain('"graph"');
    const form = await raw({ method: 'POST', path: '/api/validate', body: 'graph=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    const huge = await raw({ method: 'POST', path: '/api/validate', body: '{}', headers: { 'Content-Length': String(64 * 1024 * 1024) } }).catch(() => ({ status: 413 }));
    expect(huge.status).toBe(413);
    const badRun = await raw({ method: 'POST', path: '/api/run', body: JSON.stringify({ graph: example(), targets: 'sampler' }) });
    expect(badRun.status).toBe(400);
  });

  it('sends invalid graphs back as 400 GraphValidationError with structured errors', async () => {
    const err = await rejection(client.writePreset('broken', { format: 'flowstudio-graph', schemaVersion: 1, nodes: 'no' }));
    expect([err.name, err.status]).toEqual(['GraphValidationError', 400]);
    expect(err.errors?.[0]).toMatchObject({ code: 'schema', path: 'nodes' });
    const errors = await client.validate(graph([{ id: 'x', type: 'NoSuchNode' }], []));
    expect(errors[0]).toMatchObject({ code: 'unknown_node_type', nodeId: 'x' });
  });

  it('restarts the engine over POST /api/restart-engine: a fresh engine process answers', async () => {
    const before = engine.pid;
    expect(await client.restartEngine()).toEqual({ restarted: true, runsStopped: 0 });
    expect(engine.pid).not.toBe(before);
    expect((await client.listNodeTypes()).length).toBeGreaterThan(0);
  });

  it('checks the files a graph reads over POST /api/check-files', async () => {
    const missing = await client.checkFiles(graph([{ id: 'img', type: 'LoadImage', params: { path: 'not-here.png' } }], []));
    expect(missing).toEqual([{ nodeId: 'img', nodeType: 'LoadImage', param: 'path', value: 'not-here.png', fileKind: 'image', message: expect.stringMatching(/^File not found: "not-here\.png"/) }]);
    await expect(client.checkFiles(example())).resolves.toEqual([]);
    const err = await rejection(client.checkFiles({ nodes: 'no' }));
    expect([err.name, err.status]).toEqual(['GraphValidationError', 400]);
  });

  it('lists, writes, reads and deletes presets', async () => {
    const before = await client.listPresets();
    expect(before.filter((p) => p.source === 'example').map((p) => p.id)).toContain('example:gaussian-vp-ddim');
    expect(await client.readPreset('example:gaussian-vp-ddim')).toEqual(example());

    const info = await client.writePreset('Night / Sky', example());
    expect(info).toMatchObject({ id: 'user:Night - Sky', name: 'Night / Sky', source: 'user' });
    expect((await client.listPresets()).at(-1)?.id).toBe(info.id);
    expect(((await client.readPreset(info.id)) as GraphDocument).nodes).toEqual(example().nodes);

    await client.deletePreset(info.id);
    expect((await client.listPresets()).map((p) => p.id)).not.toContain(info.id);
    const gone = await rejection(client.readPreset(info.id));
    expect([gone.name, gone.status]).toEqual(['NotFoundError', 404]);
    const readOnly = await rejection(client.deletePreset('example:gaussian-vp-ddim'));
    expect([readOnly.name, readOnly.status]).toEqual(['BadRequestError', 400]);
  });

  it('round-trips the autosave', async () => {
    expect(await client.readAutosave()).toBeNull();
    const doc = example();
    doc.nodes[2].params.steps = 7;
    await client.writeAutosave(doc);
    const saved = await client.readAutosave();
    expect(saved?.graph).toEqual(doc);
    expect(Number.isNaN(Date.parse(saved?.savedAt ?? ''))).toBe(false);
  });

  it('saves and opens graph files inside the roots, records recent files, refuses escapes', async () => {
    const written = await client.saveGraphFile('over-http.flowstudio', example());
    expect(written).toBe(path.join(dataDir, 'graphs', 'over-http.flowstudio'));
    expect(((await client.openGraphFile('over-http.flowstudio')) as GraphDocument).nodes).toEqual(example().nodes);
    expect((await client.listRecentFiles())[0].path).toBe(written);

    fs.writeFileSync(path.join(base, 'outside.flowstudio'), serializeGraph(example()));
    fs.symlinkSync(path.join(base, 'outside.flowstudio'), path.join(dataDir, 'graphs', 'link.flowstudio'));
    for (const p of ['../../outside.flowstudio', path.join(base, 'outside.flowstudio'), 'link.flowstudio']) {
      expect((await rejection(client.openGraphFile(p))).status, p).toBe(403);
      expect((await rejection(client.saveGraphFile(p, example()))).status, p).toBe(403);
    }
    expect(fs.readFileSync(path.join(base, 'outside.flowstudio'), 'utf8')).toBe(serializeGraph(example()));
  });

  it('serves files under the allowed roots as raw bytes, refuses .. and symlink escapes', async () => {
    fs.mkdirSync(outDir, { recursive: true });
    const png = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10, 0, 1, 2, 255]);
    fs.writeFileSync(path.join(outDir, 'img.png'), png);
    const res = await raw({ path: `/api/file?path=${encodeURIComponent(path.join(outDir, 'img.png'))}` });
    expect([res.status, res.headers['content-type']]).toEqual([200, 'image/png']);
    expect(Buffer.from(await client.readFile('img.png'))).toEqual(png);

    fs.symlinkSync(path.join(base, 'secret.txt'), path.join(outDir, 'link-secret.txt'));
    for (const p of ['../secret.txt', path.join(base, 'secret.txt'), 'link-secret.txt', `${outDir}/../secret.txt`, '/etc/passwd']) {
      const r = await raw({ path: `/api/file?path=${encodeURIComponent(p)}` });
      expect(r.status, p).toBe(403);
      expect(r.body).not.toContain(SECRET);
    }
    expect((await raw({ path: '/api/file?path=nothing-here.png' })).status).toBe(404);
    expect((await raw({ path: '/api/file' })).status).toBe(400);
  });

  it('lists files of a kind for the pickers, with extensions, no symlink escapes; refuses a bad kind', async () => {
    fs.mkdirSync(path.join(outDir, 'picks'), { recursive: true });
    fs.writeFileSync(path.join(outDir, 'picks', 'in.png'), Buffer.alloc(77));
    fs.writeFileSync(path.join(outDir, 'picks', 'lat.npy'), 'x');
    fs.writeFileSync(path.join(base, 'secret.png'), SECRET);
    fs.symlinkSync(path.join(base, 'secret.png'), path.join(outDir, 'picks', 'link-out.png'));
    const images = await client.listFiles({ kind: 'image', extensions: ['.png'] });
    const pick = images.find((f) => f.path === path.join(outDir, 'picks', 'in.png'));
    expect(pick).toMatchObject({ name: 'in.png', root: outDir, size: 77, isFolder: false });
    expect(images.map((f) => f.name)).not.toContain('link-out.png');
    expect(images.every((f) => f.name.endsWith('.png'))).toBe(true);
    expect((await client.listFiles({ kind: 'latent' })).map((f) => f.name)).toContain('lat.npy');
    // Examples are a read root: the shipped graphs show up for 'any' .json.
    expect((await client.listFiles({ kind: 'any', extensions: ['.json'] })).map((f) => f.path)).toContain(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json'));

    const bad = await rejection(client.listFiles({ kind: 'secrets' as never }));
    expect([bad.status, bad.name]).toEqual([400, 'BadRequestError']);
    expect((await raw({ path: '/api/files' })).status).toBe(400);
    expect((await raw({ path: '/api/files?kind=image&ext=..%2Fx' })).status).toBe(400);
  });

  it('hashes models by ref: embedded:gaussian-vp is the sha256 of its unet/model.onnx; errors per ref', async () => {
    const vp = (await client.listModels()).find((m) => m.ref === 'embedded:gaussian-vp')!;
    const onnx = fs.readFileSync(path.join(vp.folder, 'unet', 'model.onnx'));
    const got = await client.modelHashes(['embedded:gaussian-vp', '/etc']);
    expect(got['embedded:gaussian-vp']).toEqual({ name: 'gaussian-vp', sha256: createHash('sha256').update(onnx).digest('hex') });
    expect(got['/etc']).toMatchObject({ name: 'etc', error: expect.stringMatching(/cannot hash model "\/etc"/) });

    const bad = await rejection(client.modelHashes('embedded:gaussian-vp' as never));
    expect([bad.status, bad.name]).toEqual([400, 'BadRequestError']);
    expect((await raw({ method: 'POST', path: '/api/model-hashes', body: '{}' })).status).toBe(400);
  });
});

describe('running over HTTP with events over WebSocket', () => {
  it('runs the example: events in order, previews as binary frames decoded to the engine’s exact tensors', async () => {
    const overSocket: EngineEvent[] = [];
    const inProcess: EngineEvent[] = [];
    const binaryFrames: number[] = [];
    const offSocket = client.subscribe((e) => overSocket.push(e));
    const offLocal = backend.subscribe((e) => inProcess.push(e));
    // A second raw socket to see the frame types on the wire.
    const rawSocket = new WebSocket(`ws://127.0.0.1:${server.port}/api/events`, [`flowstudio.${server.token}`]);
    rawSocket.on('message', (data, isBinary) => isBinary && binaryFrames.push((data as Buffer).length));
    await new Promise((r) => rawSocket.once('open', r));

    const summary = await client.run({ graph: example(), runId: 'http-run' });
    await new Promise((r) => setTimeout(r, 100)); // the last frames may trail the HTTP reply
    offSocket();
    offLocal();
    rawSocket.close();

    expect(summary.status).toBe('finished');
    expect(summary.runId).toBe('http-run');
    expect(summary.outputs.sampler.latent).toMatchObject({ kind: 'tensor', dims: [1, 3, 16, 16] });
    const mine = overSocket.filter((e) => e.runId === 'http-run');
    expect(mine[0].type).toBe('run-started');
    expect(mine.at(-1)?.type).toBe('run-finished');
    expect(mine.some((e) => e.type === 'node-progress' && e.nodeId === 'sampler' && e.step === e.total)).toBe(true);

    const previews = mine.filter((e) => e.type === 'node-preview');
    const reference = inProcess.filter((e) => e.type === 'node-preview' && e.runId === 'http-run');
    expect(previews.length).toBeGreaterThan(0);
    expect(previews.length).toBe(reference.length);
    expect(binaryFrames.length).toBe(reference.length);
    for (const [i, p] of previews.entries()) {
      const ref = reference[i];
      if (p.type !== 'node-preview' || ref.type !== 'node-preview') throw new Error('not a preview');
      expect(p.preview).toBeInstanceOf(Tensor);
      expect(p.preview.dims).toEqual([1, 3, 16, 16]);
      expect([p.nodeId, p.step]).toEqual([ref.nodeId, ref.step]);
      // Byte for byte (a tensor from the engine process is a view into the message it came in).
      const bytes = (d: Float32Array) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      expect(bytes(p.preview.data)).toEqual(bytes(ref.preview.data));
    }

    // The image the run wrote comes back through /api/file.
    const saved = summary.outputs.save_image.path;
    const file = saved?.kind === 'scalar' ? String(saved.value) : path.join(outDir, 'gaussian-vp-ddim.png');
    expect(Buffer.from(await client.readFile(file))).toEqual(fs.readFileSync(file));
  });

  it('reads a run’s outputs back over GET /api/output: the sampler’s trajectory as the engine holds it', async () => {
    const doc = example();
    const steps = doc.nodes.find((n) => n.id === 'sampler')?.params?.steps as number;
    const summary = await client.run({ graph: doc, runId: 'output-run' });
    expect(summary.status).toBe('finished');
    const overHttp = await client.readOutput('output-run', 'sampler', 'trajectory');
    // The engine's own value (worker thread, structured clone): the binary frame must carry it bit for bit.
    const own = await backend.readOutput('output-run', 'sampler', 'trajectory');
    if (overHttp?.kind !== 'trajectory' || own?.kind !== 'trajectory') throw new Error(`expected trajectories, got ${overHttp?.kind} / ${own?.kind}`);
    const latentDims = summary.outputs.sampler.latent.kind === 'tensor' ? summary.outputs.sampler.latent.dims : [];
    expect(own.states.length).toBe(steps + 1); // the start state included
    expect(own.denoised.length).toBe(steps);
    expect(own.sigmas.length).toBe(steps + 1);
    expect(overHttp.sigmas).toEqual(own.sigmas);
    for (const role of ['states', 'denoised'] as const) {
      expect(overHttp[role].length).toBe(own[role].length);
      for (const [i, t] of overHttp[role].entries()) {
        expect(t.dims).toEqual(latentDims);
        expect(t.data).toBeInstanceOf(Float32Array);
        expect(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)).toEqual(Buffer.from(own[role][i].data.buffer, own[role][i].data.byteOffset, own[role][i].data.byteLength));
      }
    }
    // A tensor output: its statistics match the run summary's.
    const latent = await client.readOutput('output-run', 'sampler', 'latent');
    if (latent?.kind !== 'tensor' || summary.outputs.sampler.latent.kind !== 'tensor') throw new Error('expected a tensor');
    expect(latent.dims).toEqual(latentDims);
    expect(Math.min(...latent.data)).toBe(summary.outputs.sampler.latent.min);
    expect(Math.max(...latent.data)).toBe(summary.outputs.sampler.latent.max);

    // Unknown run / node / port: 204 -> null. A model output has no numbers: 400. Missing params: 400.
    expect(await client.readOutput('no-such-run', 'sampler', 'trajectory')).toBeNull();
    expect(await client.readOutput('output-run', 'sampler', 'nope')).toBeNull();
    const model = await rejection(client.readOutput('output-run', 'model', 'model'));
    expect([model.status, model.name]).toEqual([400, 'BadRequestError']);
    expect(model.message).toMatch(/model\.model/);
    expect((await raw({ path: '/api/output?runId=output-run&node=sampler' })).status).toBe(400);
    const head = await raw({ path: '/api/output?runId=output-run&node=sampler&port=latent' });
    expect([head.status, head.headers['content-type']]).toEqual([200, 'application/x-flowstudio-output']);
  });

  it('describes the system: versions, the machine, folders and each execution provider', async () => {
    const info = await client.systemInfo();
    const pkg = JSON.parse(fs.readFileSync(path.join(APP_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(info.appVersion).toBe(pkg.version);
    expect(info.onnxruntimeVersion).toBe(JSON.parse(fs.readFileSync(path.join(APP_ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version);
    expect(info).toMatchObject({ nodeVersion: process.versions.node, platform: process.platform, arch: process.arch, outDir });
    expect(info.cpus).toBeGreaterThan(0);
    expect(info.totalMemory).toBeGreaterThan(info.freeMemory);
    expect(info.providers.map((p) => p.provider)).toEqual(['cuda', 'tensorrt', 'dml', 'coreml', 'webgpu', 'cpu']);
    expect(info.providers.find((p) => p.provider === 'cpu')?.state).toBe('works');
  });

  it('frees memory on request: idle models unloaded and cached outputs dropped, bad options refused', async () => {
    const doc = example();
    expect((await client.run({ graph: doc })).status).toBe('finished');
    const held = await client.memoryStatus();
    expect(held.modelsLoaded).toBeGreaterThanOrEqual(1);
    expect(held.cacheBytes).toBeGreaterThan(0);
    const report = await client.freeMemory();
    expect(report.modelsUnloaded).toBe(held.modelsLoaded);
    expect(await client.memoryStatus()).toEqual({ modelsLoaded: 0, modelBytes: 0, cacheBytes: 0, cacheBytesOnDisk: 0 });
    expect(report.modelsLoaded).toBe(0);
    expect(report.cacheBytesFreed).toBeGreaterThan(0);
    expect(await client.freeMemory({ models: true, cache: true })).toEqual({ modelsUnloaded: 0, modelsLoaded: 0, cacheBytesFreed: 0 });
    // Everything recomputes, on a model loaded again.
    const again = await client.run({ graph: doc });
    expect(again.status).toBe('finished');
    expect(Object.values(again.nodes).every((n) => n.state === 'done')).toBe(true);
    expect(await client.freeMemory({ cache: false })).toMatchObject({ modelsUnloaded: 1, cacheBytesFreed: 0 });
    for (const body of [{ models: 'yes' }, { everything: true }, [1]]) {
      const bad = await rejection(client.freeMemory(body as never));
      expect([bad.status, bad.name]).toEqual([400, 'BadRequestError']);
      expect(bad.message).toMatch(/^freeMemory: /);
    }
  });

  it('carries non-finite numbers as the engine has them: the PSNR of two identical tensors is Infinity, not null', async () => {
    const doc = graph(
      [
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'm', type: 'TensorMetrics' },
      ],
      ['latent.latent->m.a', 'latent.latent->m.b'],
    );
    const summary = await client.run({ graph: doc, runId: 'psnr-run' });
    expect(summary.outputs.m.psnr).toEqual({ kind: 'scalar', value: Number.POSITIVE_INFINITY });
    expect(summary.outputs.m.metrics).toMatchObject({ kind: 'metrics', values: { mse: 0, psnr: Number.POSITIVE_INFINITY } });
    // The output frame's header too; on the wire, JSON's null would have lost it.
    expect(await client.readOutput('psnr-run', 'm', 'psnr')).toEqual({ kind: 'scalar', value: Number.POSITIVE_INFINITY });
    const body = await raw({ method: 'POST', path: '/api/run', body: JSON.stringify({ graph: doc }), headers: { 'Content-Type': 'application/json' } });
    expect(body.body).toContain('"psnr":{"kind":"scalar","value":{"$nonfinite":"Infinity"}}');
  });

  it('gives a random graph the same summary over HTTP as in process (values, failures, refusals: NaN params included)', async () => {
    const local = new Engine({ cacheDir: testCacheDir(), outDir, providers: ['cpu'] });
    try {
      const rng = createRng(4242);
      const types = await local.listNodeTypes();
      // Paths differ by out folder, timings and run ids always; NaN compares unequal to itself in toEqual's eyes too.
      const comparable = (s: RunSummary) =>
        JSON.parse(
          JSON.stringify({ status: s.status, error: s.error?.message, errors: s.errors?.map((e) => e.message), outputs: s.outputs }, (k, v: unknown) =>
            k === 'path' || k === 'ms' ? undefined : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
          ),
        );
      const outcomes: Record<string, number> = {};
      for (let i = 0; i < 40; i++) {
        const doc = randomGraph(rng, types, { junkChance: 0.02 }) as GraphDocument;
        const force = doc.nodes.map((n) => n.id);
        const inProcess = (await local.execute({ graph: doc, force })).summary;
        let overHttp: RunSummary;
        try {
          overHttp = await client.run({ graph: doc, force });
        } catch (e) {
          // Validation errors come back as a 400 GraphValidationError.
          overHttp = { status: 'invalid', errors: (e as EngineRequestError).errors ?? [] } as unknown as RunSummary;
        }
        expect(comparable(overHttp)).toEqual(comparable(inProcess));
        outcomes[inProcess.status] = (outcomes[inProcess.status] ?? 0) + 1;
      }
      // Every outcome is compared: finished runs, failed ones and refused graphs.
      expect(outcomes).toMatchObject({ finished: expect.any(Number), failed: expect.any(Number), invalid: expect.any(Number) });
    } finally {
      await local.dispose();
    }
  });

  it('cancels a running sampler over HTTP', async () => {
    const doc = graph(
      [
        { id: 'model', type: 'LoadModel' },
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'sampler', type: 'Sampler', params: { steps: 500, seed: 11 } },
      ],
      ['model.model->sampler.model', 'latent.latent->sampler.latent'],
    );
    let cancelled: Promise<boolean> | undefined;
    const off = client.subscribe((e) => {
      if (e.type === 'node-progress' && e.runId === 'http-cancel' && e.step >= 3 && !cancelled) cancelled = client.cancel('http-cancel');
    });
    const summary = await client.run({ graph: doc, runId: 'http-cancel' });
    off();
    expect(await cancelled).toBe(true);
    expect(summary.status).toBe('cancelled');
    expect(summary.nodes.sampler.state).toBe('cancelled');
    expect(await client.cancel('http-cancel')).toBe(false);
  });

  it('cancels a run whose client disconnects before the reply (a closed tab leaves nothing running)', async () => {
    const doc = graph(
      [
        { id: 'model', type: 'LoadModel' },
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'sampler', type: 'Sampler', params: { steps: 500, seed: 12 } },
      ],
      ['model.model->sampler.model', 'latent.latent->sampler.latent'],
    );
    const ended = new Promise<string>((resolve) => {
      const off = client.subscribe((e) => {
        if (e.runId !== 'gone-client') return;
        if (e.type === 'node-progress' && e.step === 3) req.destroy();
        if (e.type === 'run-cancelled' || e.type === 'run-finished' || e.type === 'run-failed') {
          off();
          resolve(e.type);
        }
      });
    });
    const body = JSON.stringify({ graph: doc, runId: 'gone-client' });
    const req = http.request({
      host: '127.0.0.1',
      port: server.port,
      method: 'POST',
      path: '/api/run',
      headers: { Host: `127.0.0.1:${server.port}`, Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
    });
    req.on('error', () => undefined);
    req.end(body);
    expect(await ended).toBe('run-cancelled');
  });
});

describe('preview frames', () => {
  it('round-trip every float32 bit pattern class, for header lengths needing each padding', () => {
    const values = [0, -0, 1.5, -2.25, Number.NaN, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, Math.PI];
    for (const nodeId of ['a', 'ab', 'abc', 'abcd', 'nøde-ü']) {
      const preview = Tensor.from([2, 5], values);
      const frame = encodePreviewFrame({ type: 'node-preview', runId: 'r', nodeId, step: 3, preview });
      const headerLength = frame.readUInt32LE(0);
      const dataOffset = (4 + headerLength + 3) & ~3;
      expect(frame.length).toBe(dataOffset + 40);
      // Decode from a view with a non-zero offset, as Node buffers often are.
      const padded = Buffer.concat([Buffer.alloc(3), frame]).subarray(3);
      const e = decodePreviewFrame(padded);
      expect(e).toMatchObject({ type: 'node-preview', runId: 'r', nodeId, step: 3 });
      expect(e.preview.dims).toEqual([2, 5]);
      expect(new Uint32Array(e.preview.data.buffer)).toEqual(new Uint32Array(preview.data.buffer));
    }
  });

  it('rejects frames whose data does not match the dims', () => {
    const frame = encodePreviewFrame({ type: 'node-preview', runId: 'r', nodeId: 'n', step: 1, preview: Tensor.zeros([4]) });
    expect(() => decodePreviewFrame(frame.subarray(0, frame.length - 4))).toThrow(/should carry 16 data bytes/);
    expect(() => decodePreviewFrame(new Uint8Array([255, 0, 0, 0]))).toThrow(/runs past/);
  });
});

describe('event socket reconnection', () => {
  it('reconnects with backoff after the connection drops and resumes delivery', async () => {
    const sockets: FakeSocket[] = [];
    class FakeSocket implements WebSocketLike {
      binaryType = 'blob';
      readyState = 0;
      onopen: ((e: unknown) => void) | null = null;
      onclose: ((e: unknown) => void) | null = null;
      onerror: ((e: unknown) => void) | null = null;
      onmessage: ((e: { data: unknown }) => void) | null = null;
      constructor(
        readonly url: string,
        readonly protocols?: string | string[],
      ) {
        sockets.push(this);
      }
      close() {
        this.readyState = 3;
      }
    }
    const states: string[] = [];
    const socket = new EventSocket({ url: 'ws://x/api/events', protocols: ['flowstudio.t'], WebSocket: FakeSocket, minDelayMs: 5, maxDelayMs: 20 });
    socket.onState((s) => states.push(s));
    const got: EngineEvent[] = [];
    socket.subscribe((e) => got.push(e));
    expect(sockets).toHaveLength(1);
    expect([sockets[0].protocols, sockets[0].binaryType]).toEqual([['flowstudio.t'], 'arraybuffer']);
    sockets[0].onopen?.({});
    sockets[0].onmessage?.({ data: JSON.stringify({ type: 'run-finished', runId: 'a', ms: 1 }) });
    sockets[0].onclose?.({});
    await new Promise((r) => setTimeout(r, 30));
    expect(sockets).toHaveLength(2);
    sockets[1].onopen?.({});
    const frame = encodePreviewFrame({ type: 'node-preview', runId: 'b', nodeId: 'n', step: 2, preview: Tensor.from([2], [1, 2]) });
    sockets[1].onmessage?.({ data: frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.length) });
    sockets[1].onmessage?.({ data: 'not json' }); // dropped, not thrown
    socket.close();
    sockets[1].onclose?.({});
    await new Promise((r) => setTimeout(r, 30));
    expect(sockets).toHaveLength(2);
    expect(states).toEqual(['connecting', 'open', 'closed', 'connecting', 'open', 'closed']);
    expect(got.map((e) => e.type)).toEqual(['run-finished', 'node-preview']);
    const p = got[1];
    expect(p.type === 'node-preview' && [...p.preview.data]).toEqual([1, 2]);
  });
});

describe('transport selection', () => {
  const g = globalThis as Record<string, unknown>;

  it('uses the Electron bridge when window.flowstudio exists, previews rebuilt as Tensors', async () => {
    const calls: unknown[][] = [];
    let emit: (e: unknown) => void = () => undefined;
    const bridge = {
      // The preload's contract: failures come back as replies, not rejections (an Error crossing IPC keeps only its message).
      invoke: async (...args: unknown[]) => {
        calls.push(args);
        if (args[0] === 'readPreset') return { ok: false, error: { name: 'NotFoundError', message: 'No preset "user:x"' } };
        if (args[0] === 'validate') return { ok: false, error: { name: 'GraphValidationError', message: 'bad', errors: [{ code: 'cycle', nodeId: 'a' }] } };
        return { ok: true, value: [] };
      },
      onEvent: (l: (e: unknown) => void) => ((emit = l), () => undefined),
    } as unknown as FlowStudioBridge;
    g.flowstudio = bridge;
    try {
      const c = createEngineClient();
      expect(c.connection).toBe('open');
      await c.listPresets();
      await c.writePreset('n', { x: 1 });
      expect(calls).toEqual([['listPresets'], ['writePreset', 'n', { x: 1 }]]);
      const err = await rejection(c.readPreset('user:x'));
      expect([err.name, err.message]).toEqual(['NotFoundError', 'No preset "user:x"']);
      const invalid = (await rejection(c.validate({}))) as Error & { errors?: unknown };
      expect([invalid.name, invalid.errors]).toEqual(['GraphValidationError', [{ code: 'cycle', nodeId: 'a' }]]);
      const got: EngineEvent[] = [];
      c.subscribe((e) => got.push(e));
      emit({ type: 'node-preview', runId: 'r', nodeId: 'n', step: 1, preview: { dims: [1, 2], data: Float32Array.of(3, 4) } });
      const p = got[0];
      expect(p.type === 'node-preview' && p.preview instanceof Tensor && [...p.preview.dims, ...p.preview.data]).toEqual([1, 2, 3, 4]);
    } finally {
      delete g.flowstudio;
    }
  });

  it('otherwise uses HTTP with the token from the page and its origin, and says so when the token is missing', async () => {
    const nativeWebSocket = g.WebSocket; // Node 22+ has one; the `ws` package stands in either way
    g.location = { origin: server.url.slice(0, -1) };
    g.WebSocket = WebSocket;
    try {
      g.document = { querySelector: (sel: string) => (sel === 'meta[name="flowstudio-token"]' ? { getAttribute: () => server.token } : null) };
      const c = createEngineClient();
      expect((await c.listPresets()).length).toBeGreaterThan(0);
      c.close();
      g.document = { querySelector: () => null };
      expect(() => createEngineClient()).toThrow(/flowstudio-token/);
    } finally {
      delete g.location;
      delete g.document;
      if (nativeWebSocket === undefined) delete g.WebSocket;
      else g.WebSocket = nativeWebSocket;
    }
  });
});

describe('flowstudio serve', () => {
  it('serves on 127.0.0.1, prints the URL, and stops cleanly', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let printed = '';
    let printedErr = '';
    stdout.on('data', (c: Buffer) => (printed += c.toString()));
    stderr.on('data', (c: Buffer) => (printedErr += c.toString()));
    const stop = new AbortController();
    const serveOut = path.join(base, 'serve-out');
    // Keep the command's data and cache dirs in temp folders (vitest runs each file in its own process).
    process.env.FLOWSTUDIO_DATA_DIR = path.join(base, 'serve-data');
    process.env.FLOWSTUDIO_CACHE_DIR = testCacheDir();
    // A graph file named on the command line, in a folder that is no root: the editor gets it to open.
    const elsewhere = path.join(base, 'elsewhere');
    fs.mkdirSync(elsewhere, { recursive: true });
    const named = path.join(elsewhere, 'mine.flowstudio');
    fs.writeFileSync(named, JSON.stringify(example()));
    const done = serveCommand(['--port', '0', '--out', serveOut, '--static', staticDir, '--max-models', '4', '--cache-memory', '1GiB', named], { stdout, stderr }, stop.signal);
    for (let i = 0; i < 200 && !/http:\/\/127\.0\.0\.1:\d+\//.test(printed); i++) await new Promise((r) => setTimeout(r, 25));
    const url = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(printed);
    expect(url).not.toBeNull();
    const page = await fetch(url![0]);
    expect(page.status).toBe(200);
    const token = /name="flowstudio-token" content="([^"]+)"/.exec(await page.text())?.[1];
    const types = await fetch(`${url![0]}api/node-types`, { headers: { Authorization: `Bearer ${token}` } });
    expect(types.status).toBe(200);
    expect((await fetch(`${url![0]}api/node-types`)).status).toBe(401);
    // Its engine runs in a process of its own (the default; --engine thread would keep it in this one).
    const system = await (await fetch(`${url![0]}api/system`, { headers: { Authorization: `Bearer ${token}` } })).json();
    expect(system.engine.runsIn).toBe('process');
    expect(system.engine.pid).not.toBe(process.pid);
    // A crash of that process: said on stderr, kept in the data dir's crash log; the server answers on.
    process.kill(system.engine.pid, 'SIGSEGV');
    const crashLog = path.join(base, 'serve-data', 'engine-crashes.json');
    await expect.poll(() => fs.existsSync(crashLog), { timeout: 10_000 }).toBe(true);
    expect(JSON.parse(fs.readFileSync(crashLog, 'utf8'))[0]).toMatchObject({ cause: 'the engine process crashed (SIGSEGV)', runs: [] });
    expect(printedErr).toContain('flowstudio: the engine process crashed (SIGSEGV); a fresh engine starts with the next request');
    expect((await fetch(`${url![0]}api/node-types`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    const take = () => fetch(`${url![0]}api/open-requests/take`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } }).then((r) => r.json());
    const real = fs.realpathSync(named);
    await expect(take()).resolves.toEqual([real]);
    await expect(take()).resolves.toEqual([]);
    // Its folder may now be opened from and saved to.
    const post = (route: string, body: unknown) =>
      fetch(`${url![0]}api/graph-files/${route}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('open', { path: real })).status).toBe(200);
    expect((await post('save', { path: real, graph: example() })).status).toBe(200);
    stop.abort();
    expect(await done).toBe(0);
    await expect(fetch(url![0])).rejects.toThrow();
    expect(fs.existsSync(path.join(base, 'serve-data', 'graphs'))).toBe(true);
  });

  it('rejects a bad port as a usage error', async () => {
    const io = { stdout: new PassThrough(), stderr: new PassThrough() };
    await expect(serveCommand(['--port', 'http'], io)).rejects.toThrow(/--port expects an integer/);
    await expect(serveCommand(['--port', '0', '--engine', 'gpu'], io)).rejects.toThrow('--engine expects "process" or "thread", got "gpu"');
    await expect(serveCommand(['--host', '0.0.0.0'], io)).rejects.toThrow(/host/);
    await expect(serveCommand(['--port', '0', path.join(base, 'no-such.flowstudio')], io)).rejects.toThrow(/Graph file not found/);
    await expect(serveCommand(['--port', '0', path.join(base, 'notes.txt')], io)).rejects.toThrow(/not a graph file/);
  });

  it('reads the memory bounds: --max-models, --model-memory and --cache-memory, refusing what is not a count or a size', async () => {
    expect(memoryOptions({})).toEqual({});
    expect(memoryOptions({ 'max-models': '2', 'model-memory': '6GiB', 'cache-memory': '512 MiB' })).toEqual({
      maxLoadedModels: 2,
      maxLoadedModelBytes: 6 * 1024 ** 3,
      cacheMaxBytes: 512 * 1024 ** 2,
    });
    expect(['1000', '1.5GB', '2kb', '3KiB', '1TiB'].map((v) => parseByteSize('--x', v))).toEqual([1000, 1.5e9, 2000, 3072, 1024 ** 4]);
    for (const bad of ['', '4XB', '-1', 'lots', '1e9', '2 G B']) expect(() => parseByteSize('--cache-memory', bad)).toThrow(`--cache-memory expects a size such as 512MiB, 4GiB or a number of bytes, got "${bad}"`);
    expect(() => parseCount('--max-models', '0')).toThrow('--max-models expects an integer of at least 1, got "0"');
    expect(() => parseCount('--max-models', '1.5')).toThrow(/--max-models expects an integer/);
    const io = { stdout: new PassThrough(), stderr: new PassThrough() };
    await expect(serveCommand(['--max-models', '0'], io)).rejects.toThrow('--max-models expects an integer of at least 1, got "0"');
    await expect(serveCommand(['--cache-memory', 'big'], io)).rejects.toThrow(/--cache-memory expects a size/);
  });
});

describe('junk requests (fuzz, fixed seed)', () => {
  // Every route gets bodies and queries of the wrong shape; the server answers each with a 4xx (or 2xx) and a
  // JSON error, never a 500, and keeps serving.
  it('answers 200 junk requests over every route without a 500 and stays up', async () => {
    const rng = createRng(29);
    const junk: unknown[] = [null, 1, -1, 'x', '', [], {}, true, 1e300, '../../etc/passwd', '/etc/passwd', 'a'.repeat(3000), ['a'], '%00', { nodes: 5 }, example()];
    const fieldsOf: Record<string, string[]> = {
      '/api/validate': ['graph'],
      '/api/run': ['graph', 'targets', 'force', 'runId'],
      '/api/cancel': ['runId'],
      '/api/presets': ['name', 'graph'],
      '/api/autosave': ['graph'],
      '/api/graph-files/open': ['path'],
      '/api/graph-files/save': ['path', 'graph'],
      '/api/model-hashes': ['refs'],
    };
    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const route = rng.pick(ROUTES);
      let target = route.path.endsWith('*') ? route.path.slice(0, -1) + encodeURIComponent(String(rng.pick(junk)).slice(0, 100)) : route.path;
      let body: string | undefined;
      if (route.method === 'GET' || route.method === 'DELETE') {
        const q = new URLSearchParams();
        for (const k of ['path', 'kind', 'ext', 'runId', 'node', 'port']) if (rng.chance(0.5)) q.append(k, String(rng.pick(junk)).slice(0, 200));
        target += `?${q}`;
      } else {
        const fields = Object.fromEntries((fieldsOf[route.path] ?? []).filter(() => rng.chance(0.7)).map((f) => [f, rng.pick(junk)]));
        body = rng.chance(0.1) ? rng.pick(['{', 'null', '[]', '"x"', '{"graph": }', '']) : JSON.stringify(fields);
      }
      const res = await raw({ method: route.method, path: target, body });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `${route.method} ${target} ${body?.slice(0, 80)}: ${res.body.slice(0, 200)}`).toBeLessThan(500);
      if (res.status >= 400) expect(JSON.parse(res.body).error.message, res.body).toMatch(/\w/);
    }
    // A body nested past any stack (JSON.parse takes it; the worker's structured clone did not: a 500).
    const deep = `{"graph":{"format":"flowstudio-graph","schemaVersion":1,"nodes":[],"subgraphs":{"a":${'['.repeat(50_000)}${']'.repeat(50_000)}}}}`;
    for (const route of ['/api/run', '/api/validate']) {
      const res = await raw({ method: 'POST', path: route, body: deep });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error.message).toBe('Request body is nested more than 72 levels deep');
    }
    // Junk is mostly refused, and the server still runs a graph afterwards.
    expect([...statuses].filter(([s]) => s >= 400).reduce((a, [, n]) => a + n, 0)).toBeGreaterThan(100);
    expect((await client.run({ graph: example() })).status).toBe('finished');
  });
});
