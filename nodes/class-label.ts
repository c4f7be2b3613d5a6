/**
 * ClassLabel: the class ids of a class-conditional model (DiT on ImageNet), one per sample of the latent batch,
 * as CONDITIONING for its class input. Chains through `base` like Load Conditioning. With the model connected,
 * labels may also be class names from its model_index.json `id2label`, as DiTPipeline.get_label_ids takes them.
 */
import { Tensor } from './core/tensor.ts';
import type { Conditioning } from './core/values.ts';
import { NodeInputError, defineNode } from './core/types.ts';
import { DIT_NULL_CLASS } from './cfg.ts';
import { quoted } from './core/quote.ts';

/**
 * DiTPipeline's name table: every comma-separated synonym of every id2label entry ("tench, Tinca tinca" gives
 * "tench" and "Tinca tinca"), trimmed, to its integer id; a later id wins a synonym two entries share, as in
 * its dict. undefined when the model index has no id2label object.
 */
export function classNames(modelIndex: Record<string, unknown>): Map<string, number> | undefined {
  const table = modelIndex.id2label;
  if (table === undefined || table === null) return undefined;
  if (typeof table !== 'object' || Array.isArray(table)) throw new Error('model_index.json id2label is not an object of id -> names');
  const names = new Map<string, number>();
  for (const [key, value] of Object.entries(table)) {
    if (!/^\d+$/.test(key) || typeof value !== 'string') throw new Error(`model_index.json id2label entry "${key}" is not a class id with a names string`);
    for (const name of value.split(',')) names.set(name.trim(), Number(key));
  }
  return names;
}

/** The closest names for an error message: those containing the text, case-insensitively (at most 5). */
function suggestions(text: string, names: Map<string, number>): string {
  const needle = text.toLowerCase();
  const hits = [...names.keys()].filter((n) => n.toLowerCase().includes(needle)).slice(0, 5);
  return hits.length > 0 ? `; names containing it: ${hits.map((h) => `"${h}" (${names.get(h)})`).join(', ')}` : '';
}

/** One name: exact as DiTPipeline matches it, else the one name equal to it ignoring case. */
function lookUp(name: string, k: number, names: Map<string, number>): number {
  const exact = names.get(name);
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  const folded = [...names.keys()].filter((n) => n.toLowerCase() === lower);
  if (folded.length === 1) return names.get(folded[0])!;
  throw new Error(`label ${k + 1} (${quoted(name)}) is not a class name in the model's id2label${suggestions(name, names)}`);
}

/**
 * "207, golden retriever" -> [207, 207]: whole numbers in [0, max], or names from `names` (a model's id2label,
 * see classNames), at least one. A name cannot contain a comma, as none of id2label's synonyms does.
 */
export function parseClassLabels(text: string, max: number, names?: Map<string, number>): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 1 && parts[0] === '') throw new Error('no class label given');
  return parts.map((p, k) => {
    if (!/^\d+$/.test(p)) {
      if (names === undefined || p === '') throw new Error(`label ${k + 1} (${quoted(p)}) is not a whole number${p === '' ? '' : ' (class names need a connected model whose model_index.json has id2label)'}`);
      return lookUp(p, k, names);
    }
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
  description: `Class ids for a class-conditional model such as DiT (ImageNet classes 0-999), one per sample of the latent batch, fed to its class input as DiTPipeline feeds class_labels. With the model connected, labels may be class names from its model_index.json id2label, as DiTPipeline.get_label_ids reads them. Under CFG the unconditional side gets DiT's null class, ${DIT_NULL_CLASS}.`,
  inputs: {
    base: { type: 'CONDITIONING', optional: true, help: 'Inputs set so far (a Load Conditioning or another node); the labels are added to them' },
    model: { type: 'MODEL', optional: true, help: "The class-conditional model: its model_index.json id2label turns class names into ids (DiT's folders name the 1000 ImageNet classes)" },
  },
  outputs: { conditioning: { type: 'CONDITIONING' } },
  params: {
    labels: {
      kind: 'string',
      default: '207',
      label: 'Labels',
      help: `Comma-separated class ids or names, one per sample (their count matches the latent's batch; a single one is repeated for every sample), e.g. "207, tabby": a name is any synonym in the connected model's id2label (exact, or ignoring case when that is unambiguous); ${DIT_NULL_CLASS} is DiT's null class, an unconditional sample`,
    },
    input: { kind: 'string', default: 'class_labels', label: 'Model input', help: 'The denoiser input that takes the class ids' },
  },
  async execute(_ctx, inputs, params) {
    let names: Map<string, number> | undefined;
    try {
      names = inputs.model ? classNames(inputs.model.modelIndex) : undefined;
    } catch (e) {
      throw new NodeInputError((e as Error).message, 'model');
    }
    let labels: number[];
    try {
      labels = parseClassLabels(params.labels, DIT_NULL_CLASS, names);
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
