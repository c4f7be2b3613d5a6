/**
 * What a fuzzed run must never do (README.md here): fail without naming the node, show a JavaScript
 * internal as its message, or finish with a non-finite tensor. A run may fail, and most do: the point is
 * how it fails.
 */
import type { RunSummary } from '../../electron/engine/api.ts';

/**
 * Messages that leak a bug rather than explain a cause. "shape mismatch for input" is the session layer's
 * last-line check of ORT feeds: a graph that gets that far slipped past the node that should have said why.
 */
const INTERNALS = /shape mismatch for input|\binternal:|Cannot read propert|of undefined|of null|is not a function|is not iterable|\[object \w+\]|Maximum call stack|TypeError|RangeError|ReferenceError|Invalid typed array length|\bundefined\b/;

export interface Verdict {
  /** finished, failed, invalid or cancelled: the outcome when nothing is wrong. */
  outcome: RunSummary['status'];
  /** What is wrong, when something is. */
  problem?: string;
  /** The message, numbers masked, to group failures by cause. */
  category?: string;
}

export function maskNumbers(message: string): string {
  return message.replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/g, '#');
}

export function judge(summary: RunSummary): Verdict {
  const outcome = summary.status;
  if (outcome === 'failed') {
    const message = summary.error?.message ?? '';
    const category = `${summary.error?.nodeType ?? '?'}: ${maskNumbers(message)}`;
    if (!summary.error?.nodeId) return { outcome, category, problem: `a failure names no node: ${message}` };
    if (INTERNALS.test(message)) return { outcome, category, problem: `a failure reads as a JavaScript internal: ${message}` };
    return { outcome, category };
  }
  if (outcome === 'invalid') {
    const errors = summary.errors ?? [];
    const category = `invalid ${errors[0]?.code ?? '?'}: ${maskNumbers(errors[0]?.message ?? '')}`;
    if (errors.length === 0) return { outcome, category, problem: 'an invalid graph with no errors listed' };
    const leaked = errors.find((e) => INTERNALS.test(e.message));
    if (leaked) return { outcome, category, problem: `a validation error reads as a JavaScript internal: ${leaked.message}` };
    return { outcome, category };
  }
  if (outcome === 'finished') {
    for (const [nodeId, ports] of Object.entries(summary.outputs)) {
      for (const [port, value] of Object.entries(ports)) {
        if (value.kind === 'tensor' && !(Number.isFinite(value.min) && Number.isFinite(value.max))) {
          return { outcome, problem: `${nodeId}.${port} finished with a non-finite value (min ${value.min}, max ${value.max})` };
        }
      }
    }
  }
  return { outcome };
}
