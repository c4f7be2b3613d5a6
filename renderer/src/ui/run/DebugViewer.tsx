/**
 * The debug view modal the output panel opens: reads the outputs it needs from the engine (readOutput,
 * for the run that produced them) and shows them with the debug views as they are: the trajectory
 * scrubber, one latent, an A/B wipe with a difference heatmap, or an error chart of a METRICS series.
 */
import { useEffect, useState } from 'react';
import type { OutputValue } from '../../../../electron/engine/summary.ts';
import { ABWipe, DiffHeatmap, ErrorChart, LatentView, seriesFromMetrics, TrajectoryScrubber } from '../../debug/index.ts';
import { useClient } from '../app-context.tsx';
import { refLabel, type OutputRef } from './debug-targets.ts';

export type DebugRequest =
  | { view: 'trajectory'; runId: string; ref: OutputRef }
  | { view: 'latent'; runId: string; ref: OutputRef }
  | { view: 'compare'; runId: string; a: OutputRef; b: OutputRef }
  | { view: 'chart'; runId: string; ref: OutputRef };

type Loaded = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; values: OutputValue[] };

function refsOf(r: DebugRequest): OutputRef[] {
  return r.view === 'compare' ? [r.a, r.b] : [r.ref];
}

function titleOf(r: DebugRequest): string {
  switch (r.view) {
    case 'trajectory':
      return `Trajectory · ${refLabel(r.ref)}`;
    case 'latent':
      return `View · ${refLabel(r.ref)}`;
    case 'compare':
      return `Compare · ${refLabel(r.a)} (A) vs ${refLabel(r.b)} (B)`;
    case 'chart':
      return `Chart · ${refLabel(r.ref)}`;
  }
}

export function DebugViewer({ request, onClose }: { request: DebugRequest; onClose(): void }) {
  const client = useClient();
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });

  useEffect(() => {
    let live = true;
    setLoaded({ state: 'loading' });
    const refs = refsOf(request);
    Promise.all(refs.map((r) => client.readOutput(request.runId, r.nodeId, r.port)))
      .then((values) => {
        if (!live) return;
        const missing = refs.filter((_, i) => values[i] === null);
        if (missing.length) {
          setLoaded({ state: 'error', message: `${missing.map(refLabel).join(', ')}: not kept from that run any more (the engine keeps the last 4 runs). Run again.` });
        } else setLoaded({ state: 'ready', values: values as OutputValue[] });
      })
      .catch((e: unknown) => live && setLoaded({ state: 'error', message: e instanceof Error ? e.message : String(e) }));
    return () => {
      live = false;
    };
  }, [client, request]);

  return (
    <div className="modal-backdrop" onPointerDown={(e) => e.target === e.currentTarget && onClose()}>
      <div
        className="modal debug-modal"
        role="dialog"
        aria-modal="true"
        aria-label={titleOf(request)}
        data-testid="debug-viewer"
        data-view={request.view}
        onKeyDown={(e) => {
          if (e.key === 'Escape') onClose();
          e.stopPropagation();
        }}
      >
        <header className="debug-modal-head">
          <h2 className="modal-title">{titleOf(request)}</h2>
          {/* Focused on open so Escape closes the dialog and keys stay out of the editor's shortcuts. */}
          <button type="button" className="icon-btn" onClick={onClose} aria-label="Close" data-testid="debug-close" autoFocus>
            ✕
          </button>
        </header>
        {loaded.state === 'loading' && <p className="dim small">Loading…</p>}
        {loaded.state === 'error' && (
          <p role="alert" className="small" data-testid="debug-error">
            {loaded.message}
          </p>
        )}
        {loaded.state === 'ready' && <DebugBody request={request} values={loaded.values} />}
      </div>
    </div>
  );
}

function DebugBody({ request, values }: { request: DebugRequest; values: OutputValue[] }) {
  const [first, second] = values;
  const wrongKind = (want: string, v: OutputValue) => (
    <p role="alert" className="small">
      expected a {want}, the output is a {v.kind}
    </p>
  );
  switch (request.view) {
    case 'trajectory':
      if (first.kind !== 'trajectory') return wrongKind('trajectory', first);
      return (
        <div data-testid="trajectory-view">
          <TrajectoryScrubber trajectory={first} />
        </div>
      );
    case 'latent':
      if (first.kind !== 'tensor') return wrongKind('tensor', first);
      return (
        <div data-testid="latent-view">
          <LatentView tensor={first} label={refLabel(request.ref)} />
        </div>
      );
    case 'compare':
      if (first.kind !== 'tensor') return wrongKind('tensor', first);
      if (second.kind !== 'tensor') return wrongKind('tensor', second);
      return (
        <div data-testid="compare-view" style={{ display: 'flex', gap: 16, flexWrap: 'wrap' }}>
          <ABWipe a={first} b={second} labels={[refLabel(request.a), refLabel(request.b)]} />
          <DiffHeatmap a={first} b={second} label="|A − B|" />
        </div>
      );
    case 'chart': {
      if (first.kind !== 'metrics') return wrongKind('metrics value', first);
      const series = seriesFromMetrics(first);
      if (series.length === 0) return <p className="dim small">This metrics output has no per-step series to chart.</p>;
      return (
        <div data-testid="chart-view">
          <ErrorChart series={series} title={refLabel(request.ref)} />
        </div>
      );
    }
  }
}
