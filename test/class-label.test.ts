import { describe, expect, it } from 'vitest';
import { ClassLabel, classNames, parseClassLabels } from '../nodes/class-label.ts';
import type { ModelHandle } from '../nodes/core/values.ts';
import { NodeInputError } from '../nodes/core/types.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { fakeExecContext } from './helpers/exec-context.ts';

const run = (labels: string, base?: Record<string, Tensor>, input = 'class_labels', model?: ModelHandle) =>
  ClassLabel.execute(fakeExecContext({ nodeId: 'labels' }), { base: base ? { feeds: base } : undefined, model }, { labels, input });

/** DiT-XL-2-256's model_index.json id2label entries as its folder writes them (a few of the 1000). */
const ID2LABEL = {
  '0': 'tench, Tinca tinca',
  '207': 'golden retriever',
  '281': 'tabby, tabby cat',
  '282': 'tiger cat',
  '360': 'otter',
  '657': 'missile',
  '744': 'projectile, missile',
};
const ditModel = (modelIndex: Record<string, unknown>) => ({ modelIndex }) as unknown as ModelHandle;

describe('Class Label node', () => {
  it('parses comma-separated class ids, one per sample', () => {
    expect(parseClassLabels('207', 1000)).toEqual([207]);
    expect(parseClassLabels(' 207, 360 ,1000', 1000)).toEqual([207, 360, 1000]);
    expect(() => parseClassLabels('', 1000)).toThrow(/no class label given/);
    expect(() => parseClassLabels('207,', 1000)).toThrow(/label 2 \(""\) is not a whole number/);
    expect(() => parseClassLabels('-1', 1000)).toThrow(/label 1 \("-1"\) is not a whole number/);
    expect(() => parseClassLabels('2.5', 1000)).toThrow(/not a whole number/);
    expect(() => parseClassLabels('1001', 1000)).toThrow(/label 1 \(1001\) is above 1000/);
  });

  it("reads class names as DiTPipeline's id2label table does: each comma-separated synonym, trimmed, a later id winning a shared one", () => {
    const names = classNames({ _class_name: 'DiTPipeline', id2label: ID2LABEL })!;
    expect(names.get('tench')).toBe(0);
    expect(names.get('Tinca tinca')).toBe(0);
    expect(names.get('tabby cat')).toBe(281);
    // "missile" is 657's name and one of 744's synonyms: diffusers' dict keeps the later id.
    expect(names.get('missile')).toBe(744);
    expect(names.size).toBe(9);
    expect(classNames({ _class_name: 'DiTPipeline' })).toBeUndefined();
    expect(() => classNames({ id2label: ['tench'] })).toThrow(/id2label is not an object/);
    expect(() => classNames({ id2label: { x: 'tench' } })).toThrow(/entry "x" is not a class id/);
  });

  it('takes names, exact or ignoring case when unambiguous, mixed with ids; unknown names list the near ones', () => {
    const names = classNames({ id2label: ID2LABEL })!;
    expect(parseClassLabels('golden retriever, 360, Tabby Cat, tiger cat', 1000, names)).toEqual([207, 360, 281, 282]);
    expect(() => parseClassLabels('golden retriever', 1000)).toThrow(/label 1 \("golden retriever"\) is not a whole number \(class names need a connected model/);
    expect(() => parseClassLabels('tabby, kitten', 1000, names)).toThrow(/label 2 \("kitten"\) is not a class name in the model's id2label$/);
    expect(() => parseClassLabels('cat', 1000, names)).toThrow(/names containing it: "tabby cat" \(281\), "tiger cat" \(282\)/);
    // Ignoring case is a fallback only where one name matches.
    const clash = new Map([['Otter', 1], ['otter', 2]]);
    expect(parseClassLabels('otter', 1000, clash)).toEqual([2]);
    expect(() => parseClassLabels('OTTER', 1000, clash)).toThrow(/"OTTER"\) is not a class name/);
  });

  it('with the model connected, names become ids; a bad id2label is an error on the model port', async () => {
    const out = await run('golden retriever, otter', undefined, 'class_labels', ditModel({ id2label: ID2LABEL }));
    expect([...out.conditioning.feeds.class_labels.data]).toEqual([207, 360]);
    await expect(run('otter', undefined, 'class_labels', ditModel({}))).rejects.toThrow(/label 1 \("otter"\) is not a whole number/);
    const bad = run('1', undefined, 'class_labels', ditModel({ id2label: 'otter' }));
    await expect(bad).rejects.toThrow(NodeInputError);
    await expect(bad).rejects.toMatchObject({ port: 'model' });
  });

  it('emits the labels as a [n] conditioning feed for its input, added to the connected conditioning', async () => {
    const out = await run('207, 360');
    expect(Object.keys(out.conditioning.feeds)).toEqual(['class_labels']);
    expect(out.conditioning.feeds.class_labels.dims).toEqual([2]);
    expect([...out.conditioning.feeds.class_labels.data]).toEqual([207, 360]);
    const chained = await run('5', { other: Tensor.full([1, 3], 1) }, 'y');
    expect(Object.keys(chained.conditioning.feeds).sort()).toEqual(['other', 'y']);
  });

  it('bad input is a NodeInputError naming the param or port', async () => {
    await expect(run('dog')).rejects.toThrow(NodeInputError);
    await expect(run('dog')).rejects.toThrow(/\(param "labels"\)/);
    await expect(run('1', {}, '  ')).rejects.toThrow(/param "input"/);
    await expect(run('1', { class_labels: Tensor.full([1], 3) })).rejects.toThrow(/already set by the connected conditioning/);
  });
});
