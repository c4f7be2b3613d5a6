/**
 * A group frame: a tinted rectangle under the nodes with a title bar. Dragging the frame moves the nodes
 * inside it (the store does that); the bottom-right corner resizes it; double-click the title to rename.
 */
import { memo, useState } from 'react';
import { NodeResizeControl, type NodeProps } from '@xyflow/react';
import type { GroupFlowNode } from '../../state/selectors.ts';
import { useEditorStore } from '../app-context.tsx';

const DEFAULT_GROUP_COLOR = '#64748b';
const MIN_SIZE = { width: 160, height: 100 };

export const GroupNode = memo(function GroupNode({ data, selected }: NodeProps<GroupFlowNode>) {
  const { group } = data;
  const store = useEditorStore();
  const [editing, setEditing] = useState(false);
  const color = group.color ?? DEFAULT_GROUP_COLOR;
  return (
    <div className={`fs-group${selected ? ' selected' : ''}`} data-testid={`group-${group.id}`} style={{ '--group': color } as React.CSSProperties}>
      <div className="fs-group-title" onDoubleClick={() => setEditing(true)}>
        {editing ? (
          <input
            className="fs-group-title-input nodrag"
            data-testid={`group-title-${group.id}`}
            autoFocus
            defaultValue={group.title}
            onBlur={(e) => {
              setEditing(false);
              if (e.target.value !== group.title) store.getState().updateGroup(group.id, { title: e.target.value });
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter') (e.target as HTMLInputElement).blur();
              if (e.key === 'Escape') setEditing(false);
              e.stopPropagation();
            }}
          />
        ) : (
          <span>{group.title || 'Group'}</span>
        )}
      </div>
      {selected && (
        <NodeResizeControl position="bottom-right" minWidth={MIN_SIZE.width} minHeight={MIN_SIZE.height} className="fs-group-resize">
          <span className="fs-group-resize-grip" />
        </NodeResizeControl>
      )}
    </div>
  );
});
