/**
 * Delivers engine events to the run's listener. A listener is UI code: if it throws, the error is
 * reported and the run goes on; a broken progress bar must never fail an image.
 */
import type { EngineEvent, EngineEventListener } from '../events.ts';

export type Emit = (event: EngineEvent) => void;

export function createEmitter(listener: EngineEventListener | undefined, report: (message: string, error: unknown) => void): Emit {
  if (!listener) return () => {};
  return (event) => {
    try {
      listener(event);
    } catch (e) {
      report(`event listener threw on "${event.type}"`, e);
    }
  };
}
