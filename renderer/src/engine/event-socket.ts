/**
 * The engine's event stream over a WebSocket, reconnecting with backoff when the connection drops
 * (server restart, laptop sleep). Text frames are JSON events; binary frames are node previews.
 * Events sent while disconnected are lost: the UI treats a reconnect as "state may be stale".
 */
import { fromWireJson } from '../../../electron/engine/wire-json.ts';
import type { ConnectionState, EngineEvent, EngineEventListener } from './app-client.ts';
import { decodePreviewFrame } from './preview-frame.ts';

/** The part of the WebSocket API used here: satisfied by the browser's WebSocket and by the `ws` package. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  // Handlers take `any`: the DOM and `ws` type their event objects differently.
  onopen: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  close(code?: number, reason?: string): void;
}
export type WebSocketFactory = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface EventSocketOptions {
  url: string;
  /** Subprotocols to offer (the server reads its token from one). */
  protocols: string[];
  WebSocket: WebSocketFactory;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Called for frames that cannot be decoded (never thrown into the socket's callbacks). */
  onError?: (error: Error) => void;
}

export class EventSocket {
  private socket: WebSocketLike | undefined;
  private readonly listeners = new Set<EngineEventListener>();
  private readonly stateListeners = new Set<(s: ConnectionState) => void>();
  private stateValue: ConnectionState = 'closed';
  private delay: number;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(private readonly opts: EventSocketOptions) {
    this.delay = opts.minDelayMs ?? 250;
  }

  get hasListeners(): boolean {
    return this.listeners.size > 0;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Connects on the first listener; stays connected (reconnecting as needed) until close(). */
  subscribe(listener: EngineEventListener): () => void {
    this.listeners.add(listener);
    this.start();
    return () => this.listeners.delete(listener);
  }

  onState(listener: (s: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Opens the stream (if not already) and resolves when it is open, or after timeoutMs regardless. */
  whenOpen(timeoutMs: number): Promise<void> {
    this.start();
    if (this.stateValue === 'open') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const off = this.onState((s) => s === 'open' && done());
      function done() {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  }

  start(): void {
    if (this.stopped || this.socket || this.retry) return;
    this.connect();
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    const s = this.socket;
    this.socket = undefined;
    s?.close(1000, 'client closed');
    this.setState('closed');
  }

  private connect(): void {
    this.setState('connecting');
    let ws: WebSocketLike;
    try {
      ws = new this.opts.WebSocket(this.opts.url, this.opts.protocols);
    } catch (e) {
      this.opts.onError?.(e as Error);
      this.scheduleReconnect();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.socket = ws;
    ws.onopen = () => {
      this.delay = this.opts.minDelayMs ?? 250;
      this.setState('open');
    };
    ws.onmessage = (m: { data: unknown }) => this.dispatch(m.data);
    ws.onerror = () => undefined; // a close event follows; reconnecting is handled there
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.socket = undefined;
      this.setState('closed');
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.opts.maxDelayMs ?? 5000);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect();
    }, wait);
  }

  private dispatch(data: unknown): void {
    let event: EngineEvent;
    try {
      if (typeof data === 'string') event = fromWireJson(data) as EngineEvent;
      else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) event = decodePreviewFrame(data);
      else throw new Error(`Unexpected event frame of type ${Object.prototype.toString.call(data)}`);
    } catch (e) {
      this.opts.onError?.(e as Error);
      return;
    }
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (e) {
        this.opts.onError?.(e as Error); // one broken view must not starve the others
      }
    }
  }

  private setState(s: ConnectionState): void {
    if (s === this.stateValue) return;
    this.stateValue = s;
    for (const l of this.stateListeners) l(s);
  }
}
