/**
 * The right-hand panel, for whatever is selected: one node (NodeInspector), several nodes or a group
 * (SelectionInspector), or nothing (the document and a short guide).
 */
import { selectInspectedNode } from '../../state/selectors.ts';
import { useEditor } from '../app-context.tsx';
import { NodeInspector } from './NodeInspector.tsx';
import { GroupInspector, MultiInspector } from './SelectionInspector.tsx';

export function Inspector() {
  const node = useEditor(selectInspectedNode);
  const selection = useEditor((s) => s.selection);
  if (node) return <NodeInspector key={node.id} node={node} />;
  if (selection.nodes.length > 1) return <MultiInspector count={selection.nodes.length} />;
  if (selection.groups.length === 1) return <GroupInspector groupId={selection.groups[0]} />;
  return <DocumentInspector />;
}

function DocumentInspector() {
  const meta = useEditor((s) => s.doc.metadata);
  const counts = useEditor((s) => `${s.doc.nodes.length} nodes · ${s.doc.edges.length} connections`);
  return (
    <aside className="inspector" data-testid="inspector">
      <h2 className="panel-title">{meta.name || 'Untitled'}</h2>
      {meta.description && <p className="inspector-desc">{meta.description}</p>}
      <p className="dim small">{counts}</p>
      <section className="inspector-section">
        <h3>Getting around</h3>
        <ul className="shortcut-list">
          <li>
            <kbd>Double-click</kbd> / <kbd>Tab</kbd> add a node
          </li>
          <li>
            <kbd>Shift</kbd>+drag box select · <kbd>Shift</kbd>/<kbd>Ctrl</kbd>+click multi-select
          </li>
          <li>
            Drag from a port to empty space: add a connected node
          </li>
          <li>
            <kbd>Ctrl</kbd>+<kbd>Enter</kbd> run · <kbd>Ctrl</kbd>+<kbd>S</kbd> save
          </li>
          <li>
            <kbd>Ctrl</kbd>+<kbd>C</kbd>/<kbd>V</kbd>/<kbd>D</kbd> copy, paste, duplicate · <kbd>Del</kbd> delete
          </li>
          <li>
            <kbd>Ctrl</kbd>+<kbd>Z</kbd> undo · <kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>Z</kbd> redo
          </li>
          <li>Drop a .json graph or a FlowStudio PNG to open it</li>
        </ul>
      </section>
    </aside>
  );
}
