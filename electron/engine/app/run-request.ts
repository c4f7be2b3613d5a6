/** The shape check of a run request from outside the process (HTTP body, IPC argument); the engine checks the graph. */
import type { RunRequest } from '../api.ts';
import { BadRequestError } from './errors.ts';

const MAX_RUN_ID_LENGTH = 200;

export function parseRunRequest(value: unknown): RunRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequestError('A run request must be an object with "graph"');
  const { graph, targets, force, runId } = value as Record<string, unknown>;
  if (graph === undefined) throw new BadRequestError('The run request is missing "graph"');
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
  if (targets !== undefined && !strings(targets)) throw new BadRequestError('"targets" must be an array of node ids');
  if (force !== undefined && typeof force !== 'boolean' && !strings(force)) throw new BadRequestError('"force" must be true/false or an array of node ids');
  if (runId !== undefined && (typeof runId !== 'string' || runId === '' || runId.length > MAX_RUN_ID_LENGTH)) {
    throw new BadRequestError(`"runId" must be a non-empty string of at most ${MAX_RUN_ID_LENGTH} characters`);
  }
  return { graph, targets: targets as string[] | undefined, force: force as RunRequest['force'], runId: runId as string | undefined };
}
