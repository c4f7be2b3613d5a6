/**
 * The line drawn while dragging a new connection: coloured like the port it starts from, turning red with a
 * dashed stroke over an input it cannot connect to, so a mismatch shows before the drop.
 */
import { getBezierPath, type ConnectionLineComponentProps } from '@xyflow/react';
import { GRAPH_NODE_TYPE, type FlowNode, type GraphNodeData } from '../../state/selectors.ts';
import { portColor } from '../theme.ts';

export function ConnectionLine({ fromNode, fromHandle, fromX, fromY, toX, toY, fromPosition, toPosition, connectionStatus }: ConnectionLineComponentProps<FlowNode>) {
  const desc = fromNode.type === GRAPH_NODE_TYPE ? (fromNode.data as GraphNodeData).description : undefined;
  const ports = fromHandle.type === 'source' ? desc?.outputs : desc?.inputs;
  const type = ports?.find((p) => p.name === fromHandle.id)?.type ?? '';
  const invalid = connectionStatus === 'invalid';
  const [path] = getBezierPath({ sourceX: fromX, sourceY: fromY, sourcePosition: fromPosition, targetX: toX, targetY: toY, targetPosition: toPosition });
  return (
    <g className="fs-connection-line">
      <path d={path} fill="none" stroke={invalid ? 'var(--danger)' : portColor(type)} strokeWidth={2.5} strokeDasharray={invalid ? '6 4' : undefined} />
      <circle cx={toX} cy={toY} r={4} fill={invalid ? 'var(--danger)' : portColor(type)} />
    </g>
  );
}
