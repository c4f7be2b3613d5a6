/**
 * Engine events and call results in the form that crosses a structured-clone boundary: the worker
 * thread's postMessage and Electron IPC. Structured clone keeps typed arrays and non-finite numbers but not
 * classes or custom Error fields, so tensors travel as {dims, data} and errors as {name, message, errors}.
 */
import { Tensor } from '../../nodes/core/tensor.ts';
import type { EngineEvent } from './events.ts';

/** An engine event with its preview tensor flattened to plain data. */
export type WireEvent =
  | Exclude<EngineEvent, { type: 'node-preview' }>
  | (Omit<Extract<EngineEvent, { type: 'node-preview' }>, 'preview'> & { preview: { dims: number[]; data: Float32Array } });

/** A failed call: the name (GraphValidationError, NotFoundError, ...) picks how a client reports it. */
export interface WireError {
  name: string;
  message: string;
  /** Structured graph errors of a GraphValidationError. */
  errors?: unknown;
}

/** A call's outcome as a value: a thrown Error would lose its name and fields on the way. */
export type WireReply = { ok: true; value: unknown } | { ok: false; error: WireError };

/** The preview's data is copied: the engine may reuse the buffer it previewed from. */
export function toWireEvent(e: EngineEvent): WireEvent {
  if (e.type !== 'node-preview') return e;
  return { ...e, preview: { dims: [...e.preview.dims], data: e.preview.data.slice() } };
}

export function fromWireEvent(e: WireEvent): EngineEvent {
  if (e.type !== 'node-preview') return e;
  return { ...e, preview: new Tensor(e.preview.dims, e.preview.data) };
}

export function toWireError(e: unknown): WireError {
  const err = e as { name?: unknown; message?: unknown; errors?: unknown } | null | undefined;
  const wire: WireError = {
    name: typeof err?.name === 'string' ? err.name : 'Error',
    message: typeof err?.message === 'string' ? err.message : String(e),
  };
  if (Array.isArray(err?.errors)) wire.errors = err.errors;
  return wire;
}
