/**
 * A/B wipe: pixels before the split come from A, the rest from B. The split is turned into a whole pixel
 * column (or row) here, so the shader (shaders/wipe.frag.glsl) and the CPU fallback cut at the same place.
 */
import { checkRgbaImage, type RgbaImage } from './types.ts';

const VIEW = 'ABWipe';

export type WipeOrientation = 'horizontal' | 'vertical';

export interface WipePlan {
  width: number;
  height: number;
  /** Pixels with x (or y when vertical) < splitPx show A. */
  splitPx: number;
  vertical: boolean;
}

/** split: fraction of the width (or height) showing A, clamped to [0, 1]. */
export function planWipe(a: RgbaImage, b: RgbaImage, split: number, orientation: WipeOrientation = 'horizontal'): WipePlan {
  checkRgbaImage(VIEW, a, 'A');
  checkRgbaImage(VIEW, b, 'B');
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`${VIEW}: A is ${a.width}x${a.height} but B is ${b.width}x${b.height}; the wipe needs equal sizes`);
  }
  if (orientation !== 'horizontal' && orientation !== 'vertical') {
    throw new Error(`${VIEW}: orientation must be 'horizontal' or 'vertical', got '${orientation}'`);
  }
  if (!Number.isFinite(split)) throw new Error(`${VIEW}: split must be a finite fraction in [0, 1], got ${split}`);
  const vertical = orientation === 'vertical';
  const extent = vertical ? a.height : a.width;
  return { width: a.width, height: a.height, splitPx: Math.round(Math.min(1, Math.max(0, split)) * extent), vertical };
}
