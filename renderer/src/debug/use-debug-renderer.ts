/**
 * React glue: a ref callback that puts a DebugRenderer on the canvas when it mounts and disposes it when
 * it unmounts. A canvas keeps its first context type, so callers key the <canvas> by backend preference.
 */
import { useCallback, useState } from 'react';
import { createLatentRenderer, type BackendPreference, type DebugRenderer } from './debug-renderer.ts';

export function useDebugRenderer(backend: BackendPreference = 'auto'): {
  canvasRef: (canvas: HTMLCanvasElement | null) => void | (() => void);
  renderer: DebugRenderer | null;
  error: string | null;
} {
  const [renderer, setRenderer] = useState<DebugRenderer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const canvasRef = useCallback(
    (canvas: HTMLCanvasElement | null) => {
      if (!canvas) return;
      let created: DebugRenderer;
      try {
        created = createLatentRenderer(canvas, { backend });
      } catch (e) {
        setError(e instanceof Error ? e.message : String(e));
        return;
      }
      setError(null);
      setRenderer(created);
      return () => {
        created.dispose();
        setRenderer((current) => (current === created ? null : current));
      };
    },
    [backend],
  );
  return { canvasRef, renderer, error };
}

/** CSS size for showing a w x h image magnified with whole pixels (about `target` px on its long side). */
export function pixelatedSize(width: number, height: number, zoom?: number, target = 256): { width: number; height: number; zoom: number } {
  const z = zoom ?? Math.max(1, Math.floor(target / Math.max(width, height, 1)));
  return { width: width * z, height: height * z, zoom: z };
}
