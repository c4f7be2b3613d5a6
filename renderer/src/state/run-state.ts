/**
 * Run state: a pure reducer over the engine's event stream, the runs the user queued, run summaries and
 * validation errors. Per-node status drives the node badges and progress bars; previews and outputs are
 * kept per node (the last one wins) and are never part of the undo history.
 */
import type { RunSummary } from '../../../electron/engine/api.ts';
import type { GraphError } from '../../../electron/engine/graph/errors.ts';
import type { EngineEvent } from '../../../electron/engine/events.ts';
import type { ValueSummary } from '../../../electron/engine/summary.ts';

/** `cancelled`: the node was running when its run was cancelled; it stays so until the next run starts. */
export type NodeStatusState = 'idle' | 'queued' | 'running' | 'cached' | 'done' | 'error' | 'cancelled';

export interface NodeProgress {
  step: number;
  total: number;
  unit?: 'percent';
}

export interface NodeStatus {
  state: NodeStatusState;
  /** Running: the latest step; cancelled: the last step reached before the cancel. Unit percent: step of 100 done. */
  progress?: NodeProgress;
  /** How long the node took (done), in milliseconds. */
  ms?: number;
  message?: string;
  /** Ports (inputs or outputs) the error is about, to mark their handles. */
  errorPorts?: string[];
  /** Params the error is about, to mark their inspector fields. */
  errorParams?: string[];
  /** Where an error came from: validation errors are replaced by the next validation, run errors by the next run. */
  source?: 'validation' | 'run';
}

/** A preview as the transports deliver it (the engine's Tensor fits). */
export interface PreviewTensor {
  dims: readonly number[];
  data: Float32Array;
}

export interface NodePreview {
  runId: string;
  step: number;
  dims: number[];
  data: Float32Array;
}

/** The event stream with the preview loosened to plain data, so any transport's decoding fits. */
export type RunEvent =
  | Exclude<EngineEvent, { type: 'node-preview' }>
  | { type: 'node-preview'; runId: string; nodeId: string; step: number; preview: PreviewTensor };

export interface QueuedRun {
  runId: string;
  /** Output nodes asked for; absent: the whole graph. */
  targets?: string[];
  /** Display label ("Run", "Run to Sampler"). */
  label?: string;
}

export interface ActiveRun extends QueuedRun {
  startedAt?: number;
  /** Node ids in execution order (from run-started). */
  order: string[];
  cancelling: boolean;
}

export interface FinishedRun {
  runId: string;
  status: 'finished' | 'cancelled' | 'failed' | 'invalid';
  ms: number;
  nodeId?: string;
  message?: string;
}

export interface EdgeIssue {
  edgeId: string;
  message: string;
}

export interface RunState {
  nodes: Readonly<Record<string, NodeStatus>>;
  /** Runs waiting their turn, oldest first. */
  queue: readonly QueuedRun[];
  active: ActiveRun | null;
  last: FinishedRun | null;
  previews: Readonly<Record<string, NodePreview>>;
  /** Output summaries per node and port, from the latest run summary that produced them. */
  outputs: Readonly<Record<string, Record<string, ValueSummary>>>;
  /** Validation errors not tied to a node (or tied to an edge), for the status bar. */
  graphIssues: readonly string[];
  edgeIssues: Readonly<Record<string, EdgeIssue>>;
}

export const INITIAL_RUN_STATE: RunState = {
  nodes: {},
  queue: [],
  active: null,
  last: null,
  previews: {},
  outputs: {},
  graphIssues: [],
  edgeIssues: {},
};

export type RunAction =
  /** The user asked for a run; it waits until the engine starts it (run-started) or it is cancelled. */
  | { type: 'enqueue'; run: QueuedRun }
  /** Cancel a queued run (removed) or the active one (marked cancelling until the engine confirms). */
  | { type: 'cancel'; runId: string }
  | { type: 'event'; event: RunEvent }
  | { type: 'summary'; summary: RunSummary }
  | { type: 'validation'; errors: readonly GraphError[] }
  /** A new document: forget node statuses, previews and outputs (the queue stays). */
  | { type: 'reset-nodes' };

export function runReducer(state: RunState, action: RunAction): RunState {
  switch (action.type) {
    case 'enqueue':
      if (state.queue.some((r) => r.runId === action.run.runId) || state.active?.runId === action.run.runId) return state;
      return { ...state, queue: [...state.queue, action.run] };
    case 'cancel':
      if (state.active?.runId === action.runId) return { ...state, active: { ...state.active, cancelling: true } };
      return { ...state, queue: state.queue.filter((r) => r.runId !== action.runId) };
    case 'event':
      return applyEvent(state, action.event);
    case 'summary':
      return applySummary(state, action.summary);
    case 'validation':
      return applyValidation(state, action.errors);
    case 'reset-nodes':
      return { ...state, nodes: {}, previews: {}, outputs: {}, graphIssues: [], edgeIssues: {} };
  }
}

/** The run to hand to the engine next, when none is active. */
export function nextQueuedRun(state: RunState): QueuedRun | undefined {
  return state.active ? undefined : state.queue[0];
}

function applyEvent(state: RunState, event: RunEvent): RunState {
  switch (event.type) {
    case 'run-started': {
      const queued = state.queue.find((r) => r.runId === event.runId);
      const nodes: Record<string, NodeStatus> = {};
      // A new run clears the previous run's cancelled marks, also on nodes this run does not touch.
      for (const [id, status] of Object.entries(state.nodes)) if (status.state !== 'cancelled') nodes[id] = status;
      for (const id of event.order) nodes[id] = { state: 'queued' };
      return {
        ...state,
        nodes,
        queue: state.queue.filter((r) => r.runId !== event.runId),
        active: { ...(queued ?? { runId: event.runId }), startedAt: event.at, order: [...event.order], cancelling: false },
      };
    }
    case 'node-started':
      return setNode(state, event.nodeId, { state: 'running' });
    case 'node-progress':
      return setNode(state, event.nodeId, { state: 'running', progress: { step: event.step, total: event.total, ...(event.unit ? { unit: event.unit } : {}) } });
    case 'node-cached':
      return setNode(state, event.nodeId, { state: 'cached' });
    case 'node-finished':
      return setNode(state, event.nodeId, { state: 'done', ms: event.ms });
    case 'node-failed':
      return setNode(state, event.nodeId, { state: 'error', message: event.message, source: 'run' });
    case 'node-preview': {
      const preview: NodePreview = { runId: event.runId, step: event.step, dims: [...event.preview.dims], data: event.preview.data };
      return { ...state, previews: { ...state.previews, [event.nodeId]: preview } };
    }
    case 'run-finished':
      return endRun(state, { runId: event.runId, status: 'finished', ms: event.ms });
    case 'run-cancelled':
      return endRun(state, { runId: event.runId, status: 'cancelled', ms: event.ms, nodeId: event.nodeId }, event.nodeId);
    case 'run-failed': {
      const ended = endRun(state, { runId: event.runId, status: 'failed', ms: event.ms, nodeId: event.nodeId, message: event.message });
      // A failure outside any node event (e.g. the worker died) still marks the node it names.
      if (event.nodeId && ended.nodes[event.nodeId]?.state !== 'error') {
        return setNode(ended, event.nodeId, { state: 'error', message: event.message, source: 'run' });
      }
      return ended;
    }
  }
}

/**
 * Nodes the run left queued go back to idle; the run becomes `last`. A node left running (or the one a
 * cancel names) becomes `cancelled` when the run was cancelled, keeping the step it reached; else idle.
 */
function endRun(state: RunState, last: FinishedRun, cancelledNodeId?: string): RunState {
  const wasActive = state.active?.runId === last.runId;
  const cancelled = last.status === 'cancelled';
  const nodes: Record<string, NodeStatus> = { ...state.nodes };
  // Statuses belong to the active run: a queued run ending (cancelled before it started) leaves them alone.
  const ownsStatuses = wasActive || state.active === null;
  for (const [id, status] of Object.entries(ownsStatuses ? nodes : {})) {
    const interrupted = status.state === 'running' || (id === cancelledNodeId && status.state === 'queued');
    if (cancelled && interrupted) nodes[id] = { state: 'cancelled', ...(status.progress ? { progress: status.progress } : {}) };
    else if (status.state === 'queued' || status.state === 'running') nodes[id] = { state: 'idle' };
  }
  return { ...state, nodes, active: wasActive ? null : state.active, last, queue: state.queue.filter((r) => r.runId !== last.runId) };
}

function applySummary(state: RunState, summary: RunSummary): RunState {
  let next: RunState = { ...state, outputs: { ...state.outputs, ...summary.outputs } };
  if (summary.status === 'invalid') {
    next = applyValidation(next, summary.errors ?? []);
    // An invalid run never sends run-started: take it off the queue here.
    next = { ...next, queue: next.queue.filter((r) => r.runId !== summary.runId) };
    if (next.active?.runId === summary.runId) next = { ...next, active: null };
    return { ...next, last: { runId: summary.runId, status: 'invalid', ms: summary.ms, message: summary.error?.message } };
  }
  return next;
}

/** Replaces the previous validation errors with these, mapped onto nodes, ports, params and edges. */
function applyValidation(state: RunState, errors: readonly GraphError[]): RunState {
  const nodes: Record<string, NodeStatus> = {};
  for (const [id, status] of Object.entries(state.nodes)) if (status.source !== 'validation') nodes[id] = status;
  const graphIssues: string[] = [];
  const edgeIssues: Record<string, EdgeIssue> = {};
  for (const error of errors) {
    if (error.edgeId) edgeIssues[error.edgeId] ??= { edgeId: error.edgeId, message: error.message };
    const ids = error.code === 'cycle' && error.cycle ? error.cycle : error.nodeId ? [error.nodeId] : [];
    if (ids.length === 0) graphIssues.push(error.message);
    for (const id of ids) nodes[id] = addIssue(nodes[id], error);
  }
  return { ...state, nodes, graphIssues, edgeIssues };
}

function addIssue(status: NodeStatus | undefined, error: GraphError): NodeStatus {
  const prior = status?.source === 'validation' ? status : undefined;
  const ports = new Set(prior?.errorPorts ?? []);
  const params = new Set(prior?.errorParams ?? []);
  if (error.port) ports.add(error.port);
  if (error.param) params.add(error.param);
  return {
    state: 'error',
    source: 'validation',
    message: prior?.message ? `${prior.message}\n${error.message}` : error.message,
    ...(ports.size ? { errorPorts: [...ports] } : {}),
    ...(params.size ? { errorParams: [...params] } : {}),
  };
}

function setNode(state: RunState, nodeId: string, status: NodeStatus): RunState {
  return { ...state, nodes: { ...state.nodes, [nodeId]: status } };
}
