/** A node ExecContext for tests that run a node's execute() directly, with no engine around it. */
import type { ExecContext, FileService, ModelService } from '../../nodes/core/types.ts';

export function fakeExecContext(overrides: Partial<ExecContext> = {}): ExecContext {
  return {
    nodeId: 'n1',
    nodeType: 'Sampler',
    signal: new AbortController().signal,
    models: {} as ModelService,
    files: {} as FileService,
    graph: null,
    progress() {},
    throwIfAborted() {},
    ...overrides,
  };
}
