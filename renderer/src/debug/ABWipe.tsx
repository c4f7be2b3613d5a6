/**
 * ABWipe: two images of one size, A before a draggable split and B after it. Tensors are turned into
 * pixels with the latent display rules (on the CPU, once per input); the composite is the wipe shader
 * (WebGL2) or its CPU fallback, so dragging only redraws the composite. Keyboard: arrows move the split.
 */
import { useEffect, useMemo, useRef, useState, type CSSProperties, type KeyboardEvent, type PointerEvent } from 'react';
import { renderLatentToImageData } from './cpu-render.ts';
import type { BackendPreference } from './debug-renderer.ts';
import type { LatentDisplayOptions } from './latent-plan.ts';
import { isTensorLike, type RgbaImage, type TensorLike } from './types.ts';
import { pixelatedSize, useDebugRenderer } from './use-debug-renderer.ts';
import type { WipeOrientation } from './wipe-plan.ts';

export type WipeInput = TensorLike | RgbaImage;

export interface ABWipeProps {
  a: WipeInput | null | undefined;
  b: WipeInput | null | undefined;
  /** How tensors become pixels (ignored for RGBA images). */
  display?: LatentDisplayOptions;
  /** Initial split, fraction of the width (or height) showing A; default 0.5. */
  initialSplit?: number;
  orientation?: WipeOrientation;
  labels?: [string, string];
  zoom?: number;
  backend?: BackendPreference;
  onSplitChange?: (split: number) => void;
  className?: string;
  style?: CSSProperties;
}

export function ABWipe(props: ABWipeProps) {
  const backend = props.backend ?? 'auto';
  return <WipeCanvas key={backend} {...props} backend={backend} />;
}

function toImage(input: WipeInput, display: LatentDisplayOptions | undefined): RgbaImage {
  return isTensorLike(input) ? renderLatentToImageData(input, display) : input;
}

function WipeCanvas({
  a, b, display, initialSplit = 0.5, orientation = 'horizontal', labels = ['A', 'B'], zoom, backend, onSplitChange, className, style,
}: ABWipeProps) {
  const { canvasRef, renderer, error: createError } = useDebugRenderer(backend);
  const [split, setSplit] = useState(() => Math.min(1, Math.max(0, initialSplit)));
  const [error, setError] = useState<string | null>(null);
  const displayKey = JSON.stringify(display ?? {});
  const images = useMemo(() => {
    if (!a || !b) return null;
    try {
      return { a: toImage(a, display), b: toImage(b, display), error: null };
    } catch (e) {
      return { a: null, b: null, error: e instanceof Error ? e.message : String(e) };
    }
  }, [a, b, displayKey]); // display by content, not identity
  const [imagesReady, setImagesReady] = useState<object | null>(null);
  const dragging = useRef(false);
  const vertical = orientation === 'vertical';

  useEffect(() => {
    if (!renderer || !images?.a || !images.b) return;
    try {
      renderer.setWipeImages(images.a, images.b);
      setImagesReady(images);
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [renderer, images]);

  useEffect(() => {
    if (!renderer || !imagesReady || imagesReady !== images) return;
    try {
      renderer.drawWipe(split, orientation);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [renderer, imagesReady, images, split, orientation]);

  const moveTo = (next: number) => {
    const clamped = Math.min(1, Math.max(0, next));
    setSplit(clamped);
    onSplitChange?.(clamped);
  };
  const fromPointer = (event: PointerEvent<HTMLDivElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    moveTo(vertical ? (event.clientY - rect.top) / rect.height : (event.clientX - rect.left) / rect.width);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const step = event.shiftKey ? 0.1 : 0.02;
    const back = vertical ? 'ArrowUp' : 'ArrowLeft';
    const forward = vertical ? 'ArrowDown' : 'ArrowRight';
    if (event.key === back) moveTo(split - step);
    else if (event.key === forward) moveTo(split + step);
    else if (event.key === 'Home') moveTo(0);
    else if (event.key === 'End') moveTo(1);
    else return;
    event.preventDefault();
  };

  const w = images?.a?.width ?? 0;
  const h = images?.a?.height ?? 0;
  const size = pixelatedSize(w, h, zoom);
  const message = createError ?? images?.error ?? error;
  const ready = Boolean(images?.a) && !message;
  const percent = `${(split * 100).toFixed(2)}%`;
  const labelStyle: CSSProperties = {
    position: 'absolute', fontSize: 11, padding: '1px 4px', background: 'rgba(0,0,0,0.55)', color: '#fff', pointerEvents: 'none',
  };
  return (
    <div className={['fs-ab-wipe', className].filter(Boolean).join(' ')} style={style}>
      <div
        role="slider"
        tabIndex={0}
        aria-label="A/B split"
        aria-orientation={vertical ? 'vertical' : 'horizontal'}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(split * 100)}
        onKeyDown={onKeyDown}
        onPointerDown={(e) => {
          dragging.current = true;
          e.currentTarget.setPointerCapture(e.pointerId);
          fromPointer(e);
        }}
        onPointerMove={(e) => dragging.current && fromPointer(e)}
        onPointerUp={() => (dragging.current = false)}
        onPointerCancel={() => (dragging.current = false)}
        style={{
          position: 'relative', width: size.width, height: size.height, cursor: vertical ? 'row-resize' : 'col-resize',
          touchAction: 'none', userSelect: 'none', display: ready ? 'block' : 'none',
        }}
      >
        <canvas
          ref={canvasRef}
          data-backend={renderer?.backend ?? 'none'}
          aria-label="A/B wipe"
          style={{ width: size.width, height: size.height, imageRendering: 'pixelated', display: 'block' }}
        />
        <div
          aria-hidden
          style={{
            position: 'absolute', background: '#fff', boxShadow: '0 0 2px #000', pointerEvents: 'none',
            ...(vertical ? { left: 0, right: 0, top: percent, height: 2, marginTop: -1 } : { top: 0, bottom: 0, left: percent, width: 2, marginLeft: -1 }),
          }}
        />
        <span style={{ ...labelStyle, left: 4, top: 4 }}>{labels[0]}</span>
        <span style={{ ...labelStyle, right: 4, bottom: 4 }}>{labels[1]}</span>
      </div>
      {!(a && b) && <div style={{ fontSize: 12, opacity: 0.6 }}>needs two inputs</div>}
      {message && <div role="alert" style={{ fontSize: 12, color: '#e5533d' }}>{message}</div>}
    </div>
  );
}
