/**
 * The right-hand panel: the selected node's params as widgets generated from its declaration (params whose
 * `when` does not hold are hidden), its inputs, validation messages, last timing and cache state. With a
 * group selected it edits the group; with several nodes, alignment; with nothing, the document.
 */
import { useEffect, useMemo, useState } from 'react';
import type { GraphNode } from '../../../../electron/engine/graph/schema.ts';
import { nodeViewModel } from '../../graph/view-model.ts';
import { selectInspectedNode } from '../../state/selectors.ts';
import { useController, useEditor, useEditorStore } from '../app-context.tsx';
import { formatMs } from '../common/format.ts';
import { GROUP_COLORS, categoryColor, portColor } from '../theme.ts';
import { ParamField } from './ParamField.tsx';
import { AlignButtons } from '../toolbar/AlignButtons.tsx';

export function Inspector() {
  const node = useEditor(selectInspectedNode);
  const selection = useEditor((s) => s.selection);
  if (node) return <NodeInspector key={node.id} node={node} />;
  if (selection.nodes.length > 1) return <MultiInspector count={selection.nodes.length} />;
  if (selection.groups.length === 1) return <GroupInspector groupId={selection.groups[0]} />;
  return <DocumentInspector />;
}

function NodeInspector({ node }: { node: GraphNode }) {
  const store = useEditorStore();
  const controller = useController();
  const desc = useEditor((s) => s.nodeTypes[node.type]);
  const edges = useEditor((s) => s.doc.edges);
  const status = useEditor((s) => s.run.nodes[node.id]);
  const running = useEditor((s) => s.run.active !== null);
  const connected = useMemo(() => new Set(edges.filter((e) => e.target === node.id).map((e) => e.targetPort)), [edges, node.id]);
  const view = useMemo(() => (desc ? nodeViewModel(desc, node, connected) : null), [desc, node, connected]);

  if (!desc || !view) {
    return (
      <aside className="inspector" data-testid="inspector">
        <h2 className="panel-title">{node.type}</h2>
        <p className="inspector-error">This build has no node type “{node.type}”. It is kept as is; remove it or open the graph in a newer FlowStudio.</p>
      </aside>
    );
  }
  const errorParams = new Set(status?.errorParams ?? []);
  const visible = view.params.filter((p) => p.visible);
  const hiddenCount = view.params.length - visible.length;

  return (
    <aside className="inspector" data-testid="inspector" data-node-id={node.id}>
      <header className="inspector-head" style={{ '--accent': node.color ?? categoryColor(desc.category) } as React.CSSProperties}>
        <CommitInput
          className="inspector-title"
          testId="inspector-title"
          label="Node title"
          value={node.title ?? ''}
          placeholder={desc.title}
          onCommit={(title) => store.getState().setTitle(node.id, title)}
        />
        <div className="inspector-meta">
          <span className="chip" style={{ '--chip': categoryColor(desc.category) } as React.CSSProperties}>
            {desc.category}
          </span>
          <span className="mono dim">{desc.type}</span>
          <span className="mono dim">#{node.id}</span>
        </div>
        <p className="inspector-desc">{desc.description}</p>
      </header>

      <RunInfo nodeId={node.id} />

      {status?.state === 'error' && status.message && (
        <div className="inspector-error" role="alert" data-testid="inspector-error">
          {status.message.split('\n').map((line, i) => (
            <div key={i}>{line}</div>
          ))}
        </div>
      )}

      {view.inputs.some((i) => i.visible) && (
        <section className="inspector-section">
          <h3>Inputs</h3>
          <ul className="input-list">
            {view.inputs
              .filter((i) => i.visible)
              .map((i) => (
                <li key={i.port.name} className={i.required && !i.connected ? 'missing' : ''} data-testid={`inspector-input-${i.port.name}`}>
                  <span className="port-dot" style={{ background: portColor(i.port.type) }} />
                  <span className="input-name">{i.port.label ?? i.port.name}</span>
                  <span className="dim mono">{i.port.type}</span>
                  <span className="input-state">{i.connected ? 'connected' : i.port.optional ? 'optional' : 'not connected'}</span>
                </li>
              ))}
          </ul>
        </section>
      )}

      <section className="inspector-section">
        <h3>Parameters</h3>
        {visible.length === 0 && <p className="dim">This node has no parameters.</p>}
        {visible.map((p) => (
          <ParamField key={p.param.name} nodeId={node.id} view={p} invalid={errorParams.has(p.param.name)} />
        ))}
        {hiddenCount > 0 && <p className="dim small">{hiddenCount} more apply with other settings.</p>}
        {view.unknownParams.length > 0 && <p className="inspector-warning">Unknown params kept from the file: {view.unknownParams.join(', ')}</p>}
      </section>

      <div className="inspector-actions">
        <button type="button" className="btn" data-testid="inspector-run-to-here" onClick={() => controller.runs.run([node.id], `Run to ${node.title || desc.title}`)}>
          ▶ Run to here
        </button>
        <NodeColorPicker node={node} />
      </div>
      {running && <p className="dim small">Edits apply to the next run.</p>}
    </aside>
  );
}

/** Last timing and cache state of the node, from the run state. */
function RunInfo({ nodeId }: { nodeId: string }) {
  const status = useEditor((s) => s.run.nodes[nodeId]);
  const last = useEditor((s) => s.run.last);
  if (!status || status.state === 'idle') {
    return (
      <div className="run-info dim" data-testid="inspector-run-info" data-state="idle">
        Not run yet in this session.
      </div>
    );
  }
  const text: Record<string, string> = {
    queued: 'Queued',
    running: status.progress ? `Running: step ${status.progress.step} of ${status.progress.total}` : 'Running…',
    cached: 'Cached: reused the previous result (inputs and params unchanged)',
    done: `Computed in ${status.ms !== undefined ? formatMs(status.ms) : '?'}`,
    error: status.source === 'validation' ? 'Invalid' : 'Failed',
  };
  return (
    <div className={`run-info state-${status.state}`} data-testid="inspector-run-info" data-state={status.state}>
      {text[status.state] ?? status.state}
      {last && status.state !== 'running' && status.state !== 'queued' && <span className="dim"> · last run {last.status}</span>}
    </div>
  );
}

function NodeColorPicker({ node }: { node: GraphNode }) {
  const store = useEditorStore();
  return (
    <div className="swatches" role="group" aria-label="Node colour">
      <button type="button" className={`swatch none${!node.color ? ' active' : ''}`} title="Category colour" onClick={() => store.getState().setColor(node.id, null)} />
      {GROUP_COLORS.map((c) => (
        <button
          type="button"
          key={c}
          className={`swatch${node.color === c ? ' active' : ''}`}
          style={{ background: c }}
          title={c}
          onClick={() => store.getState().setColor(node.id, c)}
        />
      ))}
    </div>
  );
}

function MultiInspector({ count }: { count: number }) {
  const controller = useController();
  return (
    <aside className="inspector" data-testid="inspector">
      <h2 className="panel-title">{count} nodes selected</h2>
      <section className="inspector-section">
        <h3>Arrange</h3>
        <AlignButtons />
      </section>
      <div className="inspector-actions">
        <button type="button" className="btn" data-testid="inspector-group" onClick={() => controller.groupSelection()}>
          ▭ Group
        </button>
        <button type="button" className="btn" onClick={() => controller.duplicate()}>
          Duplicate
        </button>
        <button type="button" className="btn btn-danger" onClick={() => controller.deleteSelection()}>
          Delete
        </button>
      </div>
    </aside>
  );
}

function GroupInspector({ groupId }: { groupId: string }) {
  const store = useEditorStore();
  const group = useEditor((s) => s.doc.groups.find((g) => g.id === groupId));
  if (!group) return null;
  return (
    <aside className="inspector" data-testid="inspector">
      <h2 className="panel-title">Group</h2>
      <div className="field">
        <label className="field-label">Title</label>
        <CommitInput
          className="text-input"
          testId="inspector-group-title"
          label="Group title"
          value={group.title}
          onCommit={(title) => store.getState().updateGroup(group.id, { title })}
        />
      </div>
      <div className="field">
        <label className="field-label">Colour</label>
        <div className="swatches">
          {GROUP_COLORS.map((c) => (
            <button
              type="button"
              key={c}
              className={`swatch${group.color === c ? ' active' : ''}`}
              style={{ background: c }}
              title={c}
              onClick={() => store.getState().updateGroup(group.id, { color: c })}
            />
          ))}
        </div>
      </div>
      <div className="inspector-actions">
        <button type="button" className="btn btn-danger" onClick={() => store.getState().removeGroup(group.id)}>
          Remove frame (keep nodes)
        </button>
      </div>
    </aside>
  );
}

/** A text field that follows `value` (undo, other edits) and commits once, on blur or Enter; Escape reverts. */
function CommitInput(props: { value: string; onCommit(value: string): void; className: string; testId: string; label: string; placeholder?: string }) {
  const { value, onCommit } = props;
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  return (
    <input
      className={props.className}
      data-testid={props.testId}
      aria-label={props.label}
      placeholder={props.placeholder}
      value={text}
      onChange={(e) => setText(e.target.value)}
      onBlur={() => text !== value && onCommit(text)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') (e.target as HTMLInputElement).blur();
        else if (e.key === 'Escape') {
          setText(value);
          e.stopPropagation();
        }
      }}
    />
  );
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
