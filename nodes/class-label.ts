/**
 * ClassLabel: the class ids of a class-conditional model (DiT on ImageNet), one per sample of the latent batch,
 * as CONDITIONING for its class input. Chains through `base` like Load Conditioning.
 */
import { Tensor } from './core/tensor.ts';
import type { Conditioning } from './core/values.ts';
import { NodeInputError, defineNode } from './core/types.ts';
import { DIT_NULL_CLASS } from './cfg.ts';

/** "207, 360" -> [207, 360]: whole numbers in [0, max], at least one. */
export function parseClassLabels(text: string, max: number): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 1 && parts[0] === '') throw new Error('no class label given');
  return parts.map((p, k) => {
    if (!/^\d+$/.test(p)) throw new Error(`label ${k + 1} ("${p}") is not a whole number`);
    const v = Number(p);
    if (v > max) throw new Error(`label ${k + 1} (${v}) is above ${max}`);
    return v;
  });
}

export const ClassLabel = defineNode({
  type: 'ClassLabel',
  version: 1,
  title: 'Class Label',
  category: 'conditioning',
  description: `Class ids for a class-conditional model such as DiT (ImageNet classes 0-999), one per sample of the latent batch, fed to its class input as DiTPipeline feeds class_labels. Under CFG the unconditional side gets DiT's null class, ${DIT_NULL_CLASS}.`,
  inputs: {
    base: { type: 'CONDITIONING', optional: true, help: 'Inputs set so far (a Load Conditioning or another node); the labels are added to them' },
  },
  outputs: { conditioning: { type: 'CONDITIONING' } },
  params: {
    labels: {
      kind: 'string',
      default: '207',
      label: 'Labels',
      help: `Comma-separated class ids, one per sample (the latent's batch must match their count); ${DIT_NULL_CLASS} is DiT's null class, an unconditional sample. The folder's model_index.json id2label names the ImageNet ids (207: golden retriever)`,
    },
    input: { kind: 'string', default: 'class_labels', label: 'Model input', help: 'The denoiser input that takes the class ids' },
  },
  async execute(_ctx, inputs, params) {
    let labels: number[];
    try {
      labels = parseClassLabels(params.labels, DIT_NULL_CLASS);
    } catch (e) {
      throw new NodeInputError(`${(e as Error).message} (param "labels")`);
    }
    const name = params.input.trim();
    if (!name) throw new NodeInputError('no model input name (param "input")');
    const base = inputs.base?.feeds ?? {};
    if (name in base) throw new NodeInputError(`model input "${name}" is already set by the connected conditioning`, 'base');
    const conditioning: Conditioning = { feeds: { ...base, [name]: new Tensor([labels.length], Float32Array.from(labels)) } };
    return { conditioning };
  },
});

export default ClassLabel;
