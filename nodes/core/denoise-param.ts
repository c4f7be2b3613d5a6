/** The denoise fraction the schedule nodes and Split Sigmas offer: one spec, each node's own help and condition. */
import type { Condition, FloatParam } from './types.ts';

export function denoiseParam(help: string, when?: Condition) {
  return { kind: 'float', default: 1, min: 0, max: 1, step: 0.01, label: 'Denoise', help, ...(when ? { when } : {}) } as const satisfies FloatParam;
}
