/** TensorMetrics: how far latent `a` is from reference `b` (MSE, PSNR, max abs error, relative L2). */
import type { Tensor } from './core/tensor.ts';
import { NodeInputError, defineNode } from './core/types.ts';
import type { Metrics } from './core/values.ts';

export const TensorMetrics = defineNode({
  type: 'TensorMetrics',
  version: 1,
  title: 'Tensor Metrics',
  category: 'metrics',
  description:
    'Compares a with reference b: mse, psnr = 10 log10(range^2 / mse) (Infinity when equal), max_abs, rel_l2 = |a - b| / |b|.',
  inputs: {
    a: { type: 'LATENT' },
    b: { type: 'LATENT', help: 'Reference' },
  },
  outputs: { metrics: { type: 'METRICS' }, mse: { type: 'FLOAT' }, psnr: { type: 'FLOAT' } },
  params: {
    data_range: {
      kind: 'float',
      default: 2.0,
      min: 1e-12,
      label: 'Data range',
      help: 'Peak-to-peak range for PSNR: 2 for latents in [-1, 1], 1 for images in [0, 1]',
    },
  },
  async execute(_ctx, inputs, params) {
    const values = compareTensors(inputs.a, inputs.b, params.data_range);
    return { metrics: { values }, mse: values.mse, psnr: values.psnr };
  },
});

/** Error metrics accumulated in float64. */
export function compareTensors(a: Tensor, b: Tensor, dataRange: number): Metrics['values'] {
  if (!a.sameShape(b)) {
    throw new NodeInputError(`Tensor Metrics needs a and b of the same shape, got a ${a.shapeString()} and b ${b.shapeString()}`);
  }
  if (!(dataRange > 0)) throw new NodeInputError(`data_range must be positive (got ${dataRange})`);
  if (a.size === 0) throw new NodeInputError(`Tensor Metrics got empty tensors ${a.shapeString()}`);
  let sumSq = 0;
  let refSq = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.size; i++) {
    const d = a.data[i] - b.data[i];
    sumSq += d * d;
    refSq += b.data[i] * b.data[i];
    const ad = Math.abs(d);
    if (ad > maxAbs || Number.isNaN(ad)) maxAbs = ad;
  }
  const mse = sumSq / a.size;
  const psnr = mse === 0 ? Infinity : 10 * Math.log10((dataRange * dataRange) / mse);
  const relL2 = refSq === 0 ? (sumSq === 0 ? 0 : Infinity) : Math.sqrt(sumSq / refSq);
  return { mse, psnr, max_abs: maxAbs, rel_l2: relL2 };
}

export default TensorMetrics;
