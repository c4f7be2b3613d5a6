/**
 * The bottom panel: images the runs wrote (newest first, click to enlarge), the values each node produced
 * in the last runs (tensor statistics, metrics, numbers, paths) and how the last run ended. Outputs the
 * debug views can show get buttons (Scrub, View, Chart, Compare) that open them for the last run.
 */
import { useMemo, useState } from 'react';
import type { ValueSummary } from '../../../../electron/engine/summary.ts';
import { useClient, useEditor, useSession } from '../app-context.tsx';
import { toast } from '../common/toasts.ts';
import { formatMs, formatNumber } from '../common/format.ts';
import { abbreviate } from '../../../../nodes/core/quote.ts';
import type { OutputImage } from '../controller/session.ts';
import { debugTargets, refLabel, type DebugTargets, type OutputRef } from './debug-targets.ts';
import { DebugViewer, type DebugRequest } from './DebugViewer.tsx';

export function OutputPanel() {
  const client = useClient();
  const images = useSession((s) => s.images);
  const outputs = useEditor((s) => s.run.outputs);
  const last = useEditor((s) => s.run.last);
  const [open, setOpen] = useState<OutputImage | null>(null);
  const [collapsed, setCollapsed] = useState(false);
  const [debug, setDebug] = useState<DebugRequest | null>(null);
  const nodes = useEditor((s) => s.doc.nodes);
  const nodeTypes = useEditor((s) => s.nodeTypes);
  const targets = useMemo(
    () => debugTargets(outputs, (id) => nodes.find((n) => n.id === id)?.type, nodeTypes),
    [outputs, nodes, nodeTypes],
  );
  // The views read the last run's outputs (the engine keeps the last few runs).
  const runId = last && last.status !== 'invalid' ? last.runId : null;
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
                      <td>{v.kind === 'sigmas' ? <SigmasList v={v} /> : describe(v)}</td>
                      <td className="output-debug">{runId && <DebugButtons nodeId={nodeId} port={port} targets={targets} open={(r) => setDebug({ ...r, runId })} />}</td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          )}
          {runId && targets.pairs.length > 0 && <CompareControl pairs={targets.pairs} open={(a, b) => setDebug({ view: 'compare', runId, a, b })} />}
        </div>
      )}
      {open && (
        <div className="lightbox" role="dialog" aria-label="Output image" onClick={() => setOpen(null)} data-testid="lightbox">
          <img src={open.url} alt={open.path} />
          <div className="lightbox-caption mono">
            {open.path}
            {client.showInFolder && (
              <button
                type="button"
                className="btn btn-small"
                data-testid="show-in-folder"
                onClick={(e) => {
                  e.stopPropagation();
                  client.showInFolder!(open.path).catch((err: unknown) => toast.error(`Cannot show ${open.path}: ${err instanceof Error ? err.message : String(err)}`));
                }}
              >
                Show in folder
              </button>
            )}
          </div>
        </div>
      )}
      {debug && <DebugViewer request={debug} onClose={() => setDebug(null)} />}
    </section>
  );
}

type OpenView = (r: { view: 'trajectory' | 'latent' | 'chart'; ref: OutputRef }) => void;

function DebugButtons({ nodeId, port, targets, open }: { nodeId: string; port: string; targets: DebugTargets; open: OpenView }) {
  const is = (list: OutputRef[]) => list.some((r) => r.nodeId === nodeId && r.port === port);
  const ref = { nodeId, port };
  if (is(targets.trajectories)) {
    return (
      <button type="button" className="btn" data-testid={`open-trajectory-${nodeId}`} onClick={() => open({ view: 'trajectory', ref })} title="Step through the states and x0 predictions">
        Scrub
      </button>
    );
  }
  if (is(targets.tensors)) {
    return (
      <button type="button" className="btn" data-testid={`open-latent-${nodeId}-${port}`} onClick={() => open({ view: 'latent', ref })} title="Show the tensor as an image">
        View
      </button>
    );
  }
  if (is(targets.metrics)) {
    return (
      <button type="button" className="btn" data-testid={`open-chart-${nodeId}-${port}`} onClick={() => open({ view: 'chart', ref })} title="Chart the per-step series">
        Chart
      </button>
    );
  }
  return null;
}

function CompareControl({ pairs, open }: { pairs: DebugTargets['pairs']; open(a: OutputRef, b: OutputRef): void }) {
  const [index, setIndex] = useState(0);
  const pair = pairs[Math.min(index, pairs.length - 1)];
  return (
    <div className="output-compare" data-testid="compare-control">
      <select aria-label="Outputs to compare" value={Math.min(index, pairs.length - 1)} onChange={(e) => setIndex(Number(e.currentTarget.value))} data-testid="compare-pair">
        {pairs.map(([a, b], i) => (
          <option key={`${refLabel(a)}|${refLabel(b)}`} value={i}>
            {refLabel(a)} vs {refLabel(b)}
          </option>
        ))}
      </select>
      <button type="button" className="btn" data-testid="open-compare" onClick={() => open(pair[0], pair[1])} title="A/B wipe and difference heatmap">
        Compare
      </button>
    </div>
  );
}

/** A schedule's summary, unfolding to each step's level and model timestep (what the sigma nodes changed). */
function SigmasList({ v }: { v: Extract<ValueSummary, { kind: 'sigmas' }> }) {
  const more = v.steps - v.timesteps.length;
  return (
    <details className="output-sigmas">
      <summary>{describe(v)}</summary>
      <ol className="mono small" start={0} data-testid="sigma-levels">
        {v.timesteps.map((t, k) => (
          <li key={k}>
            σ {formatNumber(v.levels[k])} · t {formatNumber(t)}
          </li>
        ))}
        {more === 0 && <li key="end">σ {formatNumber(v.last)} (end)</li>}
      </ol>
      {more > 0 && <p className="dim small">and {more} more steps</p>}
    </details>
  );
}

function describe(v: ValueSummary): string {
  switch (v.kind) {
    case 'tensor':
      return `tensor [${v.dims.join('×')}] min ${formatNumber(v.min)} max ${formatNumber(v.max)} mean ${formatNumber(v.mean)}`;
    case 'scalar':
      return typeof v.value === 'number' ? formatNumber(v.value) : String(v.value);
    case 'model':
      return `model ${v.name} (${v.provider}${(v.fallbackFrom ?? []).map((f) => `; ${f.provider} could not load it: ${abbreviate(f.error, 160)}`).join('')})`;
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
