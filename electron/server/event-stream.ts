/**
 * WebSocket /api/events: every engine event to every connected client. JSON text frames, except
 * node-preview, which goes as a binary frame (preview-frame.ts). Events are encoded once and
 * broadcast. A client that falls behind loses previews (never the other events), so a slow tab
 * cannot make the server buffer tensors without bound.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { EngineAPI } from '../engine/api.ts';
import type { EngineEvent } from '../engine/events.ts';
import { encodePreviewFrame } from './preview-frame.ts';
import { WS_PROTOCOL_PREFIX } from './security.ts';
import { toWireJson } from '../engine/wire-json.ts';

/** Previews are skipped for a client with more than this many bytes still unsent. */
const MAX_PREVIEW_BACKLOG_BYTES = 8 * 1024 * 1024;
const HEARTBEAT_MS = 30_000;

export class EventStream {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 4096,
    clientTracking: true,
    // Echo the token-carrying subprotocol: browsers close a socket whose offered protocol is not echoed.
    handleProtocols: (offered: Set<string>) => [...offered].find((p) => p.startsWith(WS_PROTOCOL_PREFIX)) ?? false,
  });
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly alive = new WeakSet<WebSocket>();

  constructor(engine: Pick<EngineAPI, 'subscribe'>) {
    this.unsubscribe = engine.subscribe((e) => this.broadcast(e));
    // Dead peers (laptop lid closed, network gone) never send a close frame: ping, and drop the silent.
    this.heartbeat = setInterval(() => {
      for (const ws of this.wss.clients) {
        if (!this.alive.has(ws)) {
          ws.terminate();
          continue;
        }
        this.alive.delete(ws);
        ws.ping();
      }
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Completes an upgrade that has already passed the server's Host, Origin and token checks. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.alive.add(ws);
      ws.on('pong', () => this.alive.add(ws));
      ws.on('message', () => undefined); // the stream is one-way; client messages are ignored
      ws.on('error', () => ws.terminate());
    });
  }

  get clientCount(): number {
    return this.wss.clients.size;
  }

  private broadcast(e: EngineEvent): void {
    if (this.wss.clients.size === 0) return;
    const preview = e.type === 'node-preview';
    const frame = preview ? encodePreviewFrame(e) : toWireJson(e);
    for (const ws of this.wss.clients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (preview && ws.bufferedAmount > MAX_PREVIEW_BACKLOG_BYTES) continue;
      ws.send(frame, { binary: preview });
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.unsubscribe();
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}
