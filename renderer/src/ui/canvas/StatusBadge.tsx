import type { NodeStatus } from '../../state/run-state.ts';
import { formatMs, formatProgress } from '../common/format.ts';

/** The run state of one node as a small pill: queued, running n/N, cached, done 1.2 s, error, cancelled n/N. */
export function StatusBadge({ nodeId, status }: { nodeId: string; status: NodeStatus | undefined }) {
  if (!status || status.state === 'idle') return null;
  const text =
    status.state === 'running'
      ? status.progress
        ? formatProgress(status.progress)
        : 'running'
      : status.state === 'done'
        ? status.ms !== undefined
          ? formatMs(status.ms)
          : 'done'
        : status.state === 'error'
          ? status.source === 'validation'
            ? 'invalid'
            : 'error'
          : status.state === 'cancelled' && status.progress
            ? `cancelled ${formatProgress(status.progress)}`
            : status.state;
  return (
    <span className={`badge badge-${status.state}`} data-testid={`status-${nodeId}`} data-state={status.state} title={status.message ?? text}>
      {status.state === 'running' && <span className="spinner" aria-hidden />}
      {text}
    </span>
  );
}
