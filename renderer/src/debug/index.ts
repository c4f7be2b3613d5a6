/**
 * Debug views: latent display, difference heatmap, A/B wipe, trajectory scrubber, error chart.
 * GPU work is in shaders/ (WebGL2); each view has a CPU fallback with the same pixels.
 */
export { createLatentRenderer, webgl2Available } from './debug-renderer.ts';
export type { BackendPreference, CreateRendererOptions, DebugRenderer } from './debug-renderer.ts';
export type { DebugBackend } from './render-backend.ts';
export { renderLatentToImageData, renderHeatmapToImageData, renderLatentCpu, renderHeatmapCpu, renderWipeCpu } from './cpu-render.ts';
export { planLatentDisplay, MAX_LATENT_LAYERS } from './latent-plan.ts';
export type { ChannelIndex, ChannelMapping, DisplayRange, LatentDisplayOptions, LatentPlan, Normalization } from './latent-plan.ts';
export { planHeatmap } from './heatmap-plan.ts';
export type { HeatmapOptions, HeatmapPlan } from './heatmap-plan.ts';
export { planWipe } from './wipe-plan.ts';
export type { WipeOrientation, WipePlan } from './wipe-plan.ts';
export { COLORMAP_NAMES, colormapLut, colormapGradientCss } from './colormaps.ts';
export type { ColormapName } from './colormaps.ts';
export { LATENT_PROJECTIONS } from './latent-projections.ts';
export type { LatentProjectionName } from './latent-projections.ts';
export { layoutErrorChart, seriesFromMetrics } from './chart-layout.ts';
export type { ChartPoint, ErrorSeries } from './chart-layout.ts';
export type { PlanarImage, RgbaImage, TensorLike } from './types.ts';
export { useDebugRenderer, pixelatedSize } from './use-debug-renderer.ts';
export { LatentView } from './LatentView.tsx';
export type { LatentViewProps } from './LatentView.tsx';
export { DiffHeatmap } from './DiffHeatmap.tsx';
export type { DiffHeatmapProps } from './DiffHeatmap.tsx';
export { ABWipe } from './ABWipe.tsx';
export type { ABWipeProps, WipeInput } from './ABWipe.tsx';
export { TrajectoryScrubber } from './TrajectoryScrubber.tsx';
export type { TrajectoryLike, TrajectoryScrubberProps } from './TrajectoryScrubber.tsx';
export { ErrorChart } from './ErrorChart.tsx';
export type { ErrorChartProps } from './ErrorChart.tsx';
