/** Cancellation helpers: one error shape for "the run was cancelled", whatever reason the caller aborted with. */

export function abortError(message = 'The run was cancelled'): Error {
  return new DOMException(message, 'AbortError');
}

export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

/** Throws an AbortError when the signal has fired. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortError();
}
