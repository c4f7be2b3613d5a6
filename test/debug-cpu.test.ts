/**
 * Debug views, CPU paths (the fallbacks the shaders are compared against in test/e2e/shaders.test.ts):
 * pixels checked against values worked out by hand from the display rules, colormap tables against
 * matplotlib's published floats, and chart geometry against its closed form.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import { layoutErrorChart, niceStep, seriesFromMetrics } from '../renderer/src/debug/chart-layout.ts';
import { colormapIndex, colormapLut } from '../renderer/src/debug/colormaps.ts';
import {
  renderHeatmapToImageData,
  renderLatentToImageData,
  renderWipeCpu,
} from '../renderer/src/debug/cpu-render.ts';
import { planLatentDisplay } from '../renderer/src/debug/latent-plan.ts';
import type { RgbaImage } from '../renderer/src/debug/types.ts';
import { planWipe } from '../renderer/src/debug/wipe-plan.ts';

/** [r, g, b] of pixel p. */
function rgb(image: RgbaImage, p: number): number[] {
  return [image.data[p * 4], image.data[p * 4 + 1], image.data[p * 4 + 2]];
}

function allAlphaOpaque(image: RgbaImage): boolean {
  for (let i = 3; i < image.data.length; i += 4) if (image.data[i] !== 255) return false;
  return true;
}

/** [1, C, H, W] tensor from per-channel value lists. */
function latent(h: number, w: number, channels: number[][]): Tensor {
  return Tensor.from([1, channels.length, h, w], channels.flat());
}

describe('latent display (CPU)', () => {
  it('maps the first three channels with per-channel min/max', () => {
    // c0: min 0 max 4 -> x/4; c1 constant -> mid grey; c2: min -1 max 3 -> (x+1)/4
    const t = latent(2, 2, [[0, 1, 3, 4], [10, 10, 10, 10], [-1, 0, 1, 3]]);
    const img = renderLatentToImageData(t);
    expect(img.width).toBe(2);
    expect(img.height).toBe(2);
    // 1/4 * 255 = 63.75 -> 64; 3/4 * 255 = 191.25 -> 191; 1/2 * 255 = 127.5 -> 128
    expect(rgb(img, 0)).toEqual([0, 128, 0]);
    expect(rgb(img, 1)).toEqual([64, 128, 64]);
    expect(rgb(img, 2)).toEqual([191, 128, 128]);
    expect(rgb(img, 3)).toEqual([255, 128, 255]);
    expect(allAlphaOpaque(img)).toBe(true);
  });

  it('lays pixels out row-major from the top row (x fastest)', () => {
    // 2 rows x 3 columns, one channel shown as grey: value = 10 * row + column
    const t = latent(2, 3, [[0, 1, 2, 10, 11, 12]]);
    const img = renderLatentToImageData(t, { normalize: { mode: 'fixed', lo: 0, hi: 16 } });
    expect(img.width).toBe(3);
    expect(img.height).toBe(2);
    const grey = [0, 16, 32, 159, 175, 191]; // v / 16 * 255: 0, 15.94, 31.88, 159.38, 175.31, 191.25
    for (let p = 0; p < 6; p++) expect(rgb(img, p)).toEqual([grey[p], grey[p], grey[p]]);
  });

  it('routes chosen channels to R, G, B; null leaves a colour dark', () => {
    const t = latent(1, 2, [[0, 2], [5, 6], [-3, -1], [7, 9]]);
    const img = renderLatentToImageData(t, { mapping: { kind: 'channels', channels: [3, null, 0] } });
    expect(rgb(img, 0)).toEqual([0, 0, 0]);
    expect(rgb(img, 1)).toEqual([255, 0, 255]);
    const plan = planLatentDisplay(t, { mapping: { kind: 'channels', channels: [3, null, 0] } });
    expect(plan.layerChannels).toEqual([0, 3]); // only the channels in use go to the GPU
    expect(plan.ranges[0]).toEqual({ lo: 7, hi: 9, flat: false });
    expect(plan.ranges[1]).toBeNull();
  });

  it('defaults: one channel is grey, two channels fill R and G', () => {
    const one = renderLatentToImageData(latent(1, 2, [[1, 3]]));
    expect(rgb(one, 0)).toEqual([0, 0, 0]);
    expect(rgb(one, 1)).toEqual([255, 255, 255]);
    const two = renderLatentToImageData(latent(1, 2, [[1, 3], [4, 2]]));
    expect(rgb(two, 0)).toEqual([0, 255, 0]);
    expect(rgb(two, 1)).toEqual([255, 0, 0]);
  });

  it('fixed range [-1, 1] clamps, and sends NaN and -inf to 0, +inf to 255', () => {
    const values = [-1, 0, 0.5, 2, NaN, -Infinity, Infinity, -3];
    const img = renderLatentToImageData(latent(1, 8, [values]), { normalize: { mode: 'fixed' } });
    // (v + 1) / 2 * 255: 0, 127.5 -> 128, 191.25 -> 191, clamped 255
    const expected = [0, 128, 191, 255, 0, 0, 255, 0];
    expected.forEach((e, p) => expect(rgb(img, p)).toEqual([e, e, e]));
    const custom = renderLatentToImageData(latent(1, 1, [[0.2]]), { normalize: { mode: 'fixed', lo: 0, hi: 1 } });
    expect(rgb(custom, 0)).toEqual([51, 51, 51]);
  });

  it('mean +- k*std uses the population std of each channel', () => {
    // values -2, 2, 0, 0: mean 0, std sqrt(8/4) = sqrt(2); k = 2 -> range [-2 sqrt 2, 2 sqrt 2]
    const img = renderLatentToImageData(latent(1, 4, [[-2, 2, 0, 0]]), { normalize: { mode: 'meanstd', k: 2 } });
    const r = 2 * Math.SQRT2;
    const expected = [-2, 2, 0, 0].map((v) => Math.round(((v + r) / (2 * r)) * 255));
    expect(expected).toEqual([37, 218, 128, 128]);
    expected.forEach((e, p) => expect(rgb(img, p)[0]).toBe(e));
    // default k = 2 gives the same
    expect(renderLatentToImageData(latent(1, 4, [[-2, 2, 0, 0]]), { normalize: { mode: 'meanstd' } }).data).toEqual(img.data);
  });

  it('statistics skip non-finite values; NaN pixels show as 0', () => {
    const img = renderLatentToImageData(latent(1, 4, [[0, 4, NaN, 2]]));
    expect([0, 1, 2, 3].map((p) => rgb(img, p)[0])).toEqual([0, 255, 0, 128]);
    const plan = planLatentDisplay(latent(1, 2, [[NaN, Infinity]]));
    expect(plan.ranges[0]?.flat).toBe(true);
  });

  it('a NaN in an unused channel does not reach the colours', () => {
    const t = latent(1, 2, [[0, 1], [0, 1], [0, 1], [NaN, NaN]]);
    const img = renderLatentToImageData(t);
    expect(rgb(img, 0)).toEqual([0, 0, 0]);
    expect(rgb(img, 1)).toEqual([255, 255, 255]);
  });

  it('SD 1.5 and SDXL projections follow latent . M + bias into [-1, 1]', () => {
    // ComfyUI latent_formats.py factors, rows = latent channels, columns = R, G, B
    const sd15 = [[0.3512, 0.2297, 0.3227], [0.325, 0.4974, 0.235], [-0.2829, 0.1762, 0.2721], [-0.212, -0.2616, -0.7177]];
    const sdxl = [[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362], [-0.3165, -0.2492, -0.2188]];
    const sdxlBias = [0.1084, -0.0175, -0.0011];
    const pixels = [[1, 0, 0, 0], [0, 0, 0, 1], [0.5, -1, 2, 0.25]];
    const t = latent(1, 3, [0, 1, 2, 3].map((c) => pixels.map((px) => px[c])));
    const toByte = (v: number) => Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
    for (const [preset, m, bias] of [['sd15', sd15, [0, 0, 0]], ['sdxl', sdxl, sdxlBias]] as const) {
      const img = renderLatentToImageData(t, { mapping: { kind: 'projection', preset } });
      pixels.forEach((px, p) => {
        const expected = [0, 1, 2].map((k) => toByte(bias[k] + px.reduce((s, x, c) => s + x * m[c][k], 0)));
        expect(rgb(img, p), `${preset} pixel ${p}`).toEqual(expected);
      });
    }
    // first pixel by hand for SD 1.5: (0.3512 + 1) / 2 * 255 = 172.28 -> 172, 156.79 -> 157, 168.64 -> 169
    expect(rgb(renderLatentToImageData(t, { mapping: { kind: 'projection', preset: 'sd15' } }), 0)).toEqual([172, 157, 169]);
  });

  it('custom projections accept any channel count', () => {
    const t = latent(1, 1, [[0.5], [0.25]]);
    const img = renderLatentToImageData(t, {
      mapping: { kind: 'projection', matrix: [[1, 0, -1], [0, 2, 0]], bias: [0, -0.5, 0] },
      normalize: { mode: 'fixed', lo: -1, hi: 1 },
    });
    // r = 0.5, g = 0.5 - 0.5 = 0, b = -0.5 -> 191.25, 127.5, 63.75
    expect(rgb(img, 0)).toEqual([191, 128, 64]);
  });

  it('shows the requested batch item and accepts [C, H, W]', () => {
    const t = Tensor.from([2, 1, 1, 2], [0, 1, 5, 3]);
    expect(rgb(renderLatentToImageData(t, { batchIndex: 1 }), 0)).toEqual([255, 255, 255]);
    expect(rgb(renderLatentToImageData({ dims: [1, 1, 2], data: new Float32Array([2, 4]) }), 1)).toEqual([255, 255, 255]);
  });

  it('rejects bad input with the view and the cause', () => {
    expect(() => renderLatentToImageData(Tensor.from([2, 2], [1, 2, 3, 4]))).toThrow(/LatentView: expected a \[N, C, H, W\]/);
    expect(() => renderLatentToImageData({ dims: [1, 1, 2, 2], data: new Float32Array(3) })).toThrow(/LatentView: tensor data has 3 values/);
    const t = latent(1, 1, [[0], [1], [2]]);
    expect(() => renderLatentToImageData(t, { mapping: { kind: 'channels', channels: [0, 5, 1] } })).toThrow(
      /LatentView: channel 5 for G is out of range; the latent has 3 channels/,
    );
    expect(() => renderLatentToImageData(t, { mapping: { kind: 'projection', preset: 'sd15' } })).toThrow(
      /LatentView: the 'sd15' projection expects 4 latent channels, the latent has 3/,
    );
    expect(() => renderLatentToImageData(t, { batchIndex: 1 })).toThrow(/LatentView: batch index 1 is out of range/);
    expect(() => renderLatentToImageData(t, { normalize: { mode: 'fixed', lo: 1, hi: 1 } })).toThrow(/LatentView: fixed range needs finite lo < hi/);
    expect(() => renderLatentToImageData(t, { normalize: { mode: 'meanstd', k: 0 } })).toThrow(/LatentView: mean \+- k\*std needs k > 0/);
  });
});

describe('colormaps', () => {
  // matplotlib _cm_listed.py floats for a few entries, scaled to bytes
  const toBytes = (f: number[]) => f.map((v) => Math.round(v * 255));
  const lutEntry = (name: 'viridis' | 'inferno', i: number) => Array.from(colormapLut(name).subarray(i * 3, i * 3 + 3));

  it('match matplotlib viridis and inferno', () => {
    expect(colormapLut('viridis').length).toBe(768);
    expect(lutEntry('viridis', 0)).toEqual(toBytes([0.267004, 0.004874, 0.329415]));
    expect(lutEntry('viridis', 128)).toEqual(toBytes([0.127568, 0.566949, 0.550556]));
    expect(lutEntry('viridis', 255)).toEqual(toBytes([0.993248, 0.906157, 0.143936]));
    expect(lutEntry('inferno', 0)).toEqual(toBytes([0.001462, 0.000466, 0.013866]));
    expect(lutEntry('inferno', 40)).toEqual(toBytes([0.183429, 0.040329, 0.354971]));
    expect(lutEntry('inferno', 60)).toEqual(toBytes([0.316282, 0.05349, 0.425116]));
    expect(lutEntry('inferno', 79)).toEqual(toBytes([0.434987, 0.097069, 0.432039]));
    expect(lutEntry('inferno', 255)).toEqual(toBytes([0.988362, 0.998364, 0.644924]));
  });

  it('index = round(t * 255), clamped; NaN goes to the top', () => {
    expect([0, 1, 0.5, -1, 2, Infinity, NaN].map(colormapIndex)).toEqual([0, 255, 128, 0, 255, 255, 255]);
  });
});

describe('difference heatmap (CPU)', () => {
  // A = 0; B: c0 = [0, 1, 4], c1 = [0, 1, -2] -> mean |A - B| per pixel = [0, 1, 3]
  const a = Tensor.zeros([1, 2, 1, 3]);
  const b = latent(1, 3, [[0, 1, 4], [0, 1, -2]]);
  const entry = (name: 'viridis' | 'inferno', i: number) => Array.from(colormapLut(name).subarray(i * 3, i * 3 + 3));

  it('averages |a - b| over channels and scales by the maximum', () => {
    const { image, plan } = renderHeatmapToImageData(a, b, { colormap: 'viridis' });
    expect(plan.maxDiff).toBe(3);
    expect(plan.meanDiff).toBeCloseTo(4 / 3, 12);
    // t = [0, 1/3, 1] -> entries 0, 85, 255
    expect(rgb(image, 0)).toEqual(entry('viridis', 0));
    expect(rgb(image, 1)).toEqual(entry('viridis', 85));
    expect(rgb(image, 2)).toEqual(entry('viridis', 255));
    expect(allAlphaOpaque(image)).toBe(true);
  });

  it('takes a fixed maximum, defaults to inferno, and is symmetric in A and B', () => {
    const { image, plan } = renderHeatmapToImageData(b, a, { max: 5 });
    expect(plan.colormap).toBe('inferno');
    expect(plan.scaleMax).toBe(5);
    // t = [0, 0.2, 0.6] -> 0, 51, 153
    expect([0, 1, 2].map((p) => rgb(image, p))).toEqual([0, 51, 153].map((i) => entry('inferno', i)));
  });

  it('equal inputs give the bottom colour everywhere; NaN differences the top one', () => {
    const same = renderHeatmapToImageData(b, b);
    expect(same.plan.maxDiff).toBe(0);
    for (let p = 0; p < 3; p++) expect(rgb(same.image, p)).toEqual(entry('inferno', 0));
    const withNaN = renderHeatmapToImageData(a, latent(1, 3, [[0, NaN, 2], [0, 0, 2]]));
    expect(withNaN.plan.maxDiff).toBe(2);
    expect(rgb(withNaN.image, 1)).toEqual(entry('inferno', 255));
    expect(rgb(withNaN.image, 2)).toEqual(entry('inferno', 255));
  });

  it('rejects mismatched shapes and bad options', () => {
    expect(() => renderHeatmapToImageData(a, Tensor.zeros([1, 2, 1, 4]))).toThrow(/DiffHeatmap: A and B differ in shape/);
    expect(() => renderHeatmapToImageData(a, b, { max: 0 })).toThrow(/DiffHeatmap: max must be a finite number > 0/);
    expect(() => renderHeatmapToImageData(a, b, { colormap: 'jet' as 'viridis' })).toThrow(/DiffHeatmap: unknown colormap 'jet'/);
  });
});

describe('A/B wipe (CPU)', () => {
  const solid = (w: number, h: number, color: number[]): RgbaImage => {
    const data = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) data.set(color, i * 4);
    return { width: w, height: h, data };
  };
  const A = solid(4, 2, [255, 0, 0, 255]);
  const B = solid(4, 2, [0, 0, 255, 128]);
  const columnsFromA = (img: RgbaImage, y: number) => [0, 1, 2, 3].map((x) => img.data[(y * 4 + x) * 4] === 255);

  it('cuts at round(split * width) and keeps the result opaque', () => {
    const half = renderWipeCpu(A, B, planWipe(A, B, 0.5));
    expect(columnsFromA(half, 0)).toEqual([true, true, false, false]);
    expect(columnsFromA(half, 1)).toEqual([true, true, false, false]);
    expect(allAlphaOpaque(half)).toBe(true);
    // 0.3 * 4 = 1.2 -> 1 column of A; clamped beyond [0, 1]
    expect(columnsFromA(renderWipeCpu(A, B, planWipe(A, B, 0.3)), 0)).toEqual([true, false, false, false]);
    expect(columnsFromA(renderWipeCpu(A, B, planWipe(A, B, 7)), 0)).toEqual([true, true, true, true]);
    expect(columnsFromA(renderWipeCpu(A, B, planWipe(A, B, -1)), 0)).toEqual([false, false, false, false]);
  });

  it('splits rows when vertical', () => {
    const img = renderWipeCpu(A, B, planWipe(A, B, 0.5, 'vertical'));
    expect(columnsFromA(img, 0)).toEqual([true, true, true, true]);
    expect(columnsFromA(img, 1)).toEqual([false, false, false, false]);
  });

  it('rejects images of different sizes', () => {
    expect(() => planWipe(A, solid(2, 2, [0, 0, 0, 255]), 0.5)).toThrow(/ABWipe: A is 4x2 but B is 2x2/);
    expect(() => planWipe(A, { width: 4, height: 2, data: new Uint8ClampedArray(3) }, 0.5)).toThrow(/ABWipe: image B must be/);
  });
});

describe('error chart layout', () => {
  const opts = { width: 200, height: 120, margin: { top: 10, right: 10, bottom: 10, left: 10 } };

  it('log y: whole decades, each a tick, placed by log10', () => {
    const layout = layoutErrorChart([{ label: 'euler', points: [{ x: 0, y: 0.5 }, { x: 1, y: 0.01 }, { x: 2, y: 0.003 }] }], {
      ...opts,
      logY: true,
    });
    expect(layout.yDomain).toEqual([0.001, 1]);
    expect(layout.yTicks.map((t) => t.value)).toEqual([0.001, 0.01, 0.1, 1]);
    expect(layout.yTicks.map((t) => t.label)).toEqual(['1e-3', '0.01', '0.1', '1']);
    // plot is 100 px tall from y = 10: decade k of 3 sits at 110 - 100 * k / 3
    expect(layout.yTicks.map((t) => t.pos)).toEqual([110, 110 - 100 / 3, 110 - 200 / 3, 10].map((v) => expect.closeTo(v, 9)));
    const m = layout.series[0].markers;
    expect(m[1].y).toBeCloseTo(110 - 100 / 3, 9); // 0.01 is one decade above 0.001
    expect(m[0].y).toBeCloseTo(110 - 100 * ((Math.log10(0.5) + 3) / 3), 9);
    expect(layout.series[0].path.startsWith('M')).toBe(true);
  });

  it('log y drops values <= 0 and breaks the line there', () => {
    const layout = layoutErrorChart(
      [{ label: 'a', points: [{ x: 0, y: 1 }, { x: 1, y: 0 }, { x: 2, y: 0.1 }, { x: 3, y: 0.01 }] }],
      { ...opts, logY: true },
    );
    expect(layout.dropped).toBe(1);
    expect(layout.series[0].markers).toHaveLength(3);
    expect(layout.series[0].path.match(/M/g)).toHaveLength(2);
    expect(layout.series[0].path.match(/L/g)).toHaveLength(1);
  });

  it('linear axes: 1-2-5 steps covering the data', () => {
    expect(niceStep(9.5, 5)).toBe(2);
    expect(niceStep(0.37, 5)).toBe(0.05); // 0.074 rounds to 5e-2
    expect(niceStep(0.4, 5)).toBe(0.1);
    const layout = layoutErrorChart([{ label: 'a', points: [{ x: 1, y: 0 }, { x: 20, y: 9.5 }] }], opts);
    expect(layout.yTicks.map((t) => t.value)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(layout.xTicks.map((t) => t.value)).toEqual([0, 5, 10, 15, 20]);
    // x = 1 on [0, 20] over 180 px from 10: 10 + 9 = 19; y = 9.5 on [0, 10] over 100 px: 110 - 95 = 15
    expect(layout.series[0].markers[0].x).toBeCloseTo(19, 9);
    expect(layout.series[0].markers[1].y).toBeCloseTo(15, 9);
  });

  it('series from a METRICS value use step indices unless abscissae are given', () => {
    const s = seriesFromMetrics({ series: { heun: [0.1, 0.01] } }, [2, 4]);
    expect(s).toEqual([{ label: 'heun', points: [{ x: 2, y: 0.1 }, { x: 4, y: 0.01 }] }]);
    expect(seriesFromMetrics({ series: { a: [3] } })[0].points).toEqual([{ x: 0, y: 3 }]);
    expect(layoutErrorChart([], opts).empty).toBe(true);
  });
});
