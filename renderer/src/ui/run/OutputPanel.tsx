/**
 * The bottom panel: images the runs wrote (newest first, click to enlarge), the values each node produced
 * in the last runs (tensor statistics, metrics, numbers, paths) and how the last run ended.
 */
import { useState } from 'react';
import type { ValueSummary } from '../../../../electron/engine/summary.ts';
import { useEditor, useSession } from '../app-context.tsx';
import { formatMs, formatNumber } from '../common/format.ts';
import type { OutputImage } from '../controller/session.ts';

export function OutputPanel() {
  const images = useSession((s) => s.images);
  const outputs = useEditor((s) => s.run.outputs);
  const last = useEditor((s) => s.run.last);
  const [open, setOpen] = useState<OutputImage | null>(null);
  const [collapsed, setCollapsed] = useState(false);
  const entries = Object.entries(outputs);
  return (
    <section className={`outputs${collapsed ? ' collapsed' : ''}`} data-testid="output-panel" aria-label="Outputs">
      <header className="outputs-head">
        <button type="button" className="icon-btn" onClick={() => setCollapsed((c) => !c)} aria-label={collapsed ? 'Expand outputs' : 'Collapse outputs'} title="Show or hide outputs">
          {collapsed ? '▸' : '▾'}
        </button>
        <h2 className="panel-title">Outputs</h2>
        {last && (
          <span className={`run-result result-${last.status}`} data-testid="last-run" data-status={last.status}>
            last run {last.status} · {formatMs(last.ms)}
            {last.message ? ` · ${last.message}` : ''}
          </span>
        )}
      </header>
      {!collapsed && (
        <div className="outputs-body">
          <div className="output-images">
            {images.length === 0 && <p className="dim small">Images your graph saves appear here. Press Run.</p>}
            {images.map((img) => (
              <button type="button" key={img.url} className="output-thumb" onClick={() => setOpen(img)} title={img.path}>
                <img src={img.url} alt={img.path} data-testid="output-image" data-node-id={img.nodeId} draggable={false} />
                <span className="output-caption">{img.path.split(/[\\/]/).pop()}</span>
              </button>
            ))}
          </div>
          {entries.length > 0 && (
            <table className="output-values" data-testid="output-values">
              <tbody>
                {entries.flatMap(([nodeId, ports]) =>
                  Object.entries(ports).map(([port, v]) => (
                    <tr key={`${nodeId}.${port}`}>
                      <td className="mono">
                        {nodeId}.{port}
                      </td>
                      <td>{describe(v)}</td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          )}
        </div>
      )}
      {open && (
        <div className="lightbox" role="dialog" aria-label="Output image" onClick={() => setOpen(null)} data-testid="lightbox">
          <img src={open.url} alt={open.path} />
          <div className="lightbox-caption mono">{open.path}</div>
        </div>
      )}
    </section>
  );
}

function describe(v: ValueSummary): string {
  switch (v.kind) {
    case 'tensor':
      return `tensor [${v.dims.join('×')}] min ${formatNumber(v.min)} max ${formatNumber(v.max)} mean ${formatNumber(v.mean)}`;
    case 'scalar':
      return typeof v.value === 'number' ? formatNumber(v.value) : String(v.value);
    case 'model':
      return `model ${v.name} (${v.provider})`;
    case 'sigmas':
      return `${v.steps} steps, σ ${formatNumber(v.first)} → ${formatNumber(v.last)} (${v.space})`;
    case 'metrics':
      return Object.entries(v.values)
        .map(([k, x]) => `${k} ${formatNumber(x)}`)
        .join(' · ');
    case 'object':
      return v.description;
  }
}
