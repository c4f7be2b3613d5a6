/**
 * A graph node on the canvas, drawn from its declaration: category-coloured title, one row per port with
 * a handle coloured by port type, a compact summary of the visible params, the run status (badge, progress
 * bar, error), the sampler's live preview and the image a saver wrote.
 */
import { memo, useMemo } from 'react';
import { Handle, Position, type NodeProps } from '@xyflow/react';
import type { GraphFlowNode } from '../../state/selectors.ts';
import { nodeViewModel, type NodeViewModel } from '../../graph/view-model.ts';
import type { ValueSummary } from '../../../../electron/engine/summary.ts';
import { useEditor, useSession } from '../app-context.tsx';
import { summarizeParams } from '../common/format.ts';
import { tensorToDataUrl } from '../common/latent-image.ts';
import { categoryColor } from '../theme.ts';
import { StatusBadge } from './StatusBadge.tsx';
import { outputChips } from './output-chips.ts';
import type { NodePreview, NodeStatus } from '../../state/run-state.ts';

export const FlowNode = memo(function FlowNode({ id, data, selected }: NodeProps<GraphFlowNode>) {
  const { node, description } = data;
  const connectedKey = useEditor((s) => connectedInputsKey(s.doc.edges, id));
  const status = useEditor((s) => s.run.nodes[id]);
  const preview = useEditor((s) => s.run.previews[id]);
  const outputs = useEditor((s) => s.run.outputs[id]);
  const image = useSession((s) => s.images.find((i) => i.nodeId === id));

  const view = useMemo(
    () => (description ? nodeViewModel(description, node, new Set(connectedKey ? connectedKey.split('\u0000') : [])) : null),
    [description, node, connectedKey],
  );

  const stateClass = status && status.state !== 'idle' ? ` is-${status.state}` : '';
  if (!view) return <UnknownNode id={id} type={node.type} selected={!!selected} />;

  const accent = node.color ?? categoryColor(view.category);
  return (
    <div
      className={`fs-node${selected ? ' selected' : ''}${stateClass}`}
      data-testid={`node-${id}`}
      data-node-type={node.type}
      style={{ '--accent': accent } as React.CSSProperties}
      title={view.description}
    >
      <header className="fs-node-header">
        <span className="fs-node-title">{view.title}</span>
        <StatusBadge nodeId={id} status={status} />
      </header>
      <ProgressBar status={status} />
      <Ports id={id} view={view} status={status} />
      <ParamSummary view={view} status={status} />
      {preview && <PreviewImage nodeId={id} preview={preview} />}
      {image && <img className="fs-node-image" src={image.url} alt="output" data-testid={`node-image-${id}`} draggable={false} />}
      {outputs && <OutputValues outputs={outputs} />}
      {status?.state === 'error' && status.message && (
        <div className="fs-node-error" data-testid={`node-error-${id}`}>
          {status.message}
        </div>
      )}
    </div>
  );
});

function Ports({ id, view, status }: { id: string; view: NodeViewModel; status: NodeStatus | undefined }) {
  const inputs = view.inputs.filter((i) => i.visible);
  const errorPorts = new Set(status?.errorPorts ?? []);
  const rows = Math.max(inputs.length, view.outputs.length);
  if (rows === 0) return null;
  return (
    <div className="fs-node-ports">
      {Array.from({ length: rows }, (_, r) => {
        const input = inputs[r];
        const output = view.outputs[r];
        return (
          <div className="fs-port-row" key={r}>
            <div className="fs-port fs-port-in">
              {input && (
                <>
                  <Handle
                    type="target"
                    position={Position.Left}
                    id={input.port.name}
                    className={`fs-handle${errorPorts.has(input.port.name) ? ' handle-error' : ''}${input.connected ? ' connected' : ''}`}
                    style={{ '--port': input.color } as React.CSSProperties}
                    data-testid={`handle-${id}-in-${input.port.name}`}
                    data-port-type={input.port.type}
                    title={`${input.port.type}${input.port.optional ? ' (optional)' : ''}${input.port.help ? ` — ${input.port.help}` : ''}`}
                  />
                  <span
                    className={`fs-port-label${input.port.optional ? ' optional' : ''}${errorPorts.has(input.port.name) || (input.required && !input.connected && status?.source === 'validation') ? ' error' : ''}`}
                  >
                    {input.port.label ?? input.port.name}
                  </span>
                </>
              )}
            </div>
            <div className="fs-port fs-port-out">
              {output && (
                <>
                  <span className={`fs-port-label${errorPorts.has(output.port.name) ? ' error' : ''}`}>{output.port.label ?? output.port.name}</span>
                  <Handle
                    type="source"
                    position={Position.Right}
                    id={output.port.name}
                    className="fs-handle"
                    style={{ '--port': output.color } as React.CSSProperties}
                    data-testid={`handle-${id}-out-${output.port.name}`}
                    data-port-type={output.port.type}
                    title={`${output.port.type}${output.port.help ? ` — ${output.port.help}` : ''}`}
                  />
                </>
              )}
            </div>
          </div>
        );
      })}
    </div>
  );
}

function ParamSummary({ view, status }: { view: NodeViewModel; status: NodeStatus | undefined }) {
  const rows = summarizeParams(view.params);
  if (!rows.length) return null;
  const errorParams = new Set(status?.errorParams ?? []);
  return (
    <dl className="fs-node-params">
      {rows.map((r) => (
        <div key={r.name} className={`fs-param-row${r.isDefault ? ' default' : ''}${errorParams.has(r.name) ? ' error' : ''}`}>
          <dt>{r.label}</dt>
          <dd>{r.value}</dd>
        </div>
      ))}
    </dl>
  );
}

function ProgressBar({ status }: { status: NodeStatus | undefined }) {
  if (status?.state !== 'running') return null;
  const p = status.progress;
  const fraction = p && p.total > 0 ? Math.min(1, p.step / p.total) : null;
  return (
    <div className={`fs-progress${fraction === null ? ' indeterminate' : ''}`} role="progressbar" aria-valuenow={fraction === null ? undefined : Math.round(fraction * 100)}>
      <div className="fs-progress-fill" style={fraction === null ? undefined : { width: `${fraction * 100}%` }} />
    </div>
  );
}

function PreviewImage({ nodeId, preview }: { nodeId: string; preview: NodePreview }) {
  const url = useMemo(() => {
    try {
      return tensorToDataUrl(preview);
    } catch {
      return '';
    }
  }, [preview]);
  if (!url) return null;
  return (
    <figure className="fs-node-preview">
      <img src={url} alt={`preview step ${preview.step}`} data-testid={`preview-${nodeId}`} data-step={preview.step} draggable={false} />
      <figcaption>step {preview.step}</figcaption>
    </figure>
  );
}

/** Small values a node produced and where a model runs (output-chips.ts). */
function OutputValues({ outputs }: { outputs: Record<string, ValueSummary> }) {
  const rows = outputChips(outputs);
  if (!rows.length) return null;
  return (
    <div className="fs-node-values">
      {rows.slice(0, 6).map((r) => (
        <span key={r.key} className={r.warn ? 'chip warn' : 'chip'} title={r.warn} data-testid={r.warn ? 'provider-fallback' : undefined}>
          {r.text}
        </span>
      ))}
    </div>
  );
}

function UnknownNode({ id, type, selected }: { id: string; type: string; selected: boolean }) {
  return (
    <div className={`fs-node unknown${selected ? ' selected' : ''}`} data-testid={`node-${id}`} data-node-type={type}>
      <header className="fs-node-header">
        <span className="fs-node-title">{type}</span>
      </header>
      <div className="fs-node-error">Unknown node type “{type}”: this build does not have it.</div>
    </div>
  );
}

/** The connected input port names as one string, so the selector result compares by value. */
function connectedInputsKey(edges: readonly { target: string; targetPort: string }[], nodeId: string): string {
  let key = '';
  for (const e of edges) if (e.target === nodeId) key += (key ? '\u0000' : '') + e.targetPort;
  return key;
}
