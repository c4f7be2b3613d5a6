/**
 * DiffHeatmap: |a - b| averaged over channels, through a perceptual colormap, with a colour bar and the
 * largest difference shown. WebGL2 shader when available, CPU fallback otherwise.
 */
import { useEffect, useState, type CSSProperties } from 'react';
import { colormapGradientCss, type ColormapName } from './colormaps.ts';
import type { BackendPreference } from './debug-renderer.ts';
import type { HeatmapPlan } from './heatmap-plan.ts';
import { formatValue } from './LatentView.tsx';
import type { TensorLike } from './types.ts';
import { pixelatedSize, useDebugRenderer } from './use-debug-renderer.ts';

export interface DiffHeatmapProps {
  a: TensorLike | null | undefined;
  b: TensorLike | null | undefined;
  colormap?: ColormapName;
  /** Fixed value for the top of the colormap (default: the largest difference). */
  max?: number;
  batchIndex?: number;
  zoom?: number;
  backend?: BackendPreference;
  label?: string;
  className?: string;
  style?: CSSProperties;
}

export function DiffHeatmap(props: DiffHeatmapProps) {
  const backend = props.backend ?? 'auto';
  return <HeatmapCanvas key={backend} {...props} backend={backend} />;
}

function HeatmapCanvas({ a, b, colormap = 'inferno', max, batchIndex, zoom, backend, label, className, style }: DiffHeatmapProps) {
  const { canvasRef, renderer, error: createError } = useDebugRenderer(backend);
  const [plan, setPlan] = useState<HeatmapPlan | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!renderer || !a || !b) return;
    try {
      setPlan(renderer.drawHeatmap(a, b, { colormap, max, batchIndex }));
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [renderer, a, b, colormap, max, batchIndex]);

  const dims = a?.dims ?? [];
  const size = pixelatedSize(dims[dims.length - 1] ?? 0, dims[dims.length - 2] ?? 0, zoom);
  const message = createError ?? error;
  const ready = Boolean(a && b) && !message;
  return (
    <figure className={['fs-diff-heatmap', className].filter(Boolean).join(' ')} style={{ margin: 0, ...style }}>
      {label && <figcaption style={{ fontSize: 12, opacity: 0.8 }}>{label}</figcaption>}
      <canvas
        ref={canvasRef}
        data-backend={renderer?.backend ?? 'none'}
        aria-label={label ?? 'difference heatmap'}
        style={{ width: size.width, height: size.height, imageRendering: 'pixelated', display: ready ? 'block' : 'none' }}
      />
      {!(a && b) && <div style={{ fontSize: 12, opacity: 0.6 }}>needs two inputs</div>}
      {message && <div role="alert" style={{ fontSize: 12, color: '#e5533d' }}>{message}</div>}
      {ready && plan && (
        <div style={{ fontSize: 11, width: size.width, fontVariantNumeric: 'tabular-nums' }}>
          <div aria-hidden style={{ height: 8, background: colormapGradientCss(colormap), borderRadius: 2 }} />
          <div style={{ display: 'flex', justifyContent: 'space-between', opacity: 0.7 }}>
            <span>0</span>
            <span>{formatValue(plan.scaleMax)}</span>
          </div>
          <div className="fs-diff-max">
            max |A−B| = {formatValue(plan.maxDiff)} · mean {formatValue(plan.meanDiff)} (over {plan.channels} channel
            {plan.channels === 1 ? '' : 's'})
          </div>
        </div>
      )}
    </figure>
  );
}
