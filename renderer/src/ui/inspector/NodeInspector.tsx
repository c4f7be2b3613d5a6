/**
 * The selected node: params as widgets generated from its declaration (params whose `when` does not hold
 * are hidden), its inputs, validation messages, last timing and cache state, title and colour.
 */
import { useMemo } from 'react';
import type { GraphNode } from '../../../../electron/engine/graph/schema.ts';
import { nodeViewModel } from '../../graph/view-model.ts';
import { useController, useEditor, useEditorStore } from '../app-context.tsx';
import { CommitInput } from '../common/CommitInput.tsx';
import { describeProgress, formatMs } from '../common/format.ts';
import { GROUP_COLORS, categoryColor, portColor } from '../theme.ts';
import { ParamField } from './ParamField.tsx';

export function NodeInspector({ node }: { node: GraphNode }) {
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
    running: status.progress ? `Running: ${describeProgress(status.progress)}` : 'Running…',
    cached: 'Cached: reused the previous result (inputs and params unchanged)',
    done: `Computed in ${status.ms !== undefined ? formatMs(status.ms) : '?'}`,
    error: status.source === 'validation' ? 'Invalid' : 'Failed',
    cancelled: status.progress ? `Cancelled at ${status.progress.unit === 'percent' ? `${status.progress.step}%` : describeProgress(status.progress)}` : 'Cancelled while running',
  };
  return (
    <div className={`run-info state-${status.state}`} data-testid="inspector-run-info" data-state={status.state}>
      {text[status.state] ?? status.state}
      {last && status.state !== 'running' && status.state !== 'queued' && status.state !== 'cancelled' && <span className="dim"> · last run {last.status}</span>}
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
