/**
 * Preview tensors as images: the debug views' latent display (CPU path: previews are small and arrive a few
 * times a second) turned into a PNG data URL for an <img>. Pixel-space latents (3 channels, [-1, 1]) map
 * straight to RGB; 4-channel SD latents use the SD 1.5 projection; anything else its first three channels,
 * each stretched to its own range.
 */
import { renderLatentToImageData, type LatentDisplayOptions, type TensorLike } from '../../debug/index.ts';

export function previewOptions(dims: readonly number[]): LatentDisplayOptions {
  const channels = dims.length === 4 ? dims[1] : dims[0];
  if (channels === 3) return { normalize: { mode: 'fixed', lo: -1, hi: 1 } };
  if (channels === 4) return { mapping: { kind: 'projection', preset: 'sd15' } };
  return { normalize: { mode: 'minmax' } };
}

/** A PNG data URL of the tensor (CSP allows data: images), or '' when it cannot be drawn. */
export function tensorToDataUrl(tensor: TensorLike): string {
  const image = renderLatentToImageData(tensor, previewOptions(tensor.dims));
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return '';
  ctx.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
  return canvas.toDataURL('image/png');
}
