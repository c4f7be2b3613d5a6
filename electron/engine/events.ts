/**
 * The one typed event stream every transport (in-process, HTTP/WebSocket, Electron IPC) carries.
 * Events are plain data except `preview`, a Tensor the transports encode as binary frames.
 */
import type { Tensor } from '../../nodes/core/tensor.ts';

export type NodeRunState = 'queued' | 'running' | 'cached' | 'done' | 'failed' | 'cancelled';

export type EngineEvent =
  | { type: 'run-started'; runId: string; at: number; order: string[] }
  | { type: 'node-started'; runId: string; nodeId: string; nodeType: string }
  | { type: 'node-cached'; runId: string; nodeId: string; nodeType: string }
  /** unit percent: step of total = 100 is the share done (work with no step count, an adaptive solver); absent: steps. */
  | { type: 'node-progress'; runId: string; nodeId: string; step: number; total: number; unit?: 'percent' }
  | { type: 'node-preview'; runId: string; nodeId: string; step: number; preview: Tensor }
  | { type: 'node-finished'; runId: string; nodeId: string; nodeType: string; ms: number }
  | { type: 'node-failed'; runId: string; nodeId: string; nodeType: string; message: string }
  | { type: 'run-finished'; runId: string; ms: number }
  | { type: 'run-cancelled'; runId: string; ms: number; nodeId?: string }
  | { type: 'run-failed'; runId: string; ms: number; nodeId?: string; message: string };

export type EngineEventListener = (event: EngineEvent) => void;
