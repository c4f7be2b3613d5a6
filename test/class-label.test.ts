import { describe, expect, it } from 'vitest';
import { ClassLabel, parseClassLabels } from '../nodes/class-label.ts';
import { NodeInputError } from '../nodes/core/types.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { fakeExecContext } from './helpers/exec-context.ts';

const run = (labels: string, base?: Record<string, Tensor>, input = 'class_labels') =>
  ClassLabel.execute(fakeExecContext({ nodeId: 'labels' }), { base: base ? { feeds: base } : undefined }, { labels, input });

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
