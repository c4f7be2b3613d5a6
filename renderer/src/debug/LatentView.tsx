/**
 * LatentView: one latent (or image) tensor as RGB with channel mapping and per-channel normalization,
 * drawn by the WebGL2 shader when available, else by the CPU fallback (data-backend on the canvas says which).
 */
import { useEffect, useMemo, useState, type CSSProperties } from 'react';
import type { BackendPreference } from './debug-renderer.ts';
import type { DisplayRange, LatentDisplayOptions } from './latent-plan.ts';
import type { TensorLike } from './types.ts';
import { pixelatedSize, useDebugRenderer } from './use-debug-renderer.ts';

export interface LatentViewProps {
  tensor: TensorLike | null | undefined;
  options?: LatentDisplayOptions;
  /** Whole-pixel magnification; default fits about 256 px. */
  zoom?: number;
  backend?: BackendPreference;
  /** Caption above the image. */
  label?: string;
  /** Show the value range of each colour under the image (default true). */
  showRanges?: boolean;
  className?: string;
  style?: CSSProperties;
}

export function LatentView(props: LatentViewProps) {
  const backend = props.backend ?? 'auto';
  return <LatentCanvas key={backend} {...props} backend={backend} />;
}

function LatentCanvas({ tensor, options, zoom, backend, label, showRanges = true, className, style }: LatentViewProps) {
  const { canvasRef, renderer, error: createError } = useDebugRenderer(backend);
  const [ranges, setRanges] = useState<(DisplayRange | null)[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Redraw on content, not on object identity of an inline options literal.
  const optionsKey = JSON.stringify(options ?? {});
  const stableOptions = useMemo(() => options, [optionsKey]);

  useEffect(() => {
    if (!renderer || !tensor) return;
    try {
      const plan = renderer.drawLatent(tensor, stableOptions);
      setRanges(plan.ranges);
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [renderer, tensor, stableOptions]);

  const dims = tensor?.dims ?? [];
  const w = dims[dims.length - 1] ?? 0;
  const h = dims[dims.length - 2] ?? 0;
  const size = pixelatedSize(w, h, zoom);
  const message = createError ?? error;
  return (
    <figure className={['fs-latent-view', className].filter(Boolean).join(' ')} style={{ margin: 0, ...style }}>
      {label && <figcaption style={{ fontSize: 12, opacity: 0.8 }}>{label}</figcaption>}
      <canvas
        ref={canvasRef}
        data-backend={renderer?.backend ?? 'none'}
        aria-label={label ?? 'latent'}
        style={{ width: size.width, height: size.height, imageRendering: 'pixelated', display: tensor && !message ? 'block' : 'none' }}
      />
      {!tensor && <div style={{ fontSize: 12, opacity: 0.6 }}>no data</div>}
      {message && <div role="alert" style={{ fontSize: 12, color: '#e5533d' }}>{message}</div>}
      {showRanges && ranges && tensor && !message && <RangeCaption ranges={ranges} />}
    </figure>
  );
}

function RangeCaption({ ranges }: { ranges: (DisplayRange | null)[] }) {
  return (
    <div style={{ fontSize: 11, opacity: 0.7, fontVariantNumeric: 'tabular-nums' }}>
      {ranges.map((r, k) => (
        <span key={k} style={{ marginRight: 8 }}>
          {'RGB'[k]}: {r === null ? 'off' : r.flat ? 'flat' : `${formatValue(r.lo)} … ${formatValue(r.hi)}`}
        </span>
      ))}
    </div>
  );
}

export function formatValue(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  return abs >= 1e4 || abs < 1e-3 ? v.toExponential(2) : v.toPrecision(3);
}
