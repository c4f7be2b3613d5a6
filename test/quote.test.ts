/** Long text from a graph or a file in messages: quoted by its start and its length. */
import { describe, expect, it } from 'vitest';
import { parseClassLabels } from '../nodes/class-label.ts';
import { abbreviate, quoted } from '../nodes/core/quote.ts';
import { parseSigmaList } from '../nodes/schedule.ts';

describe('quoting text in messages', () => {
  it('keeps short text whole and cuts long text to its start and length', () => {
    expect(quoted('a "b"')).toBe('"a \\"b\\""');
    expect(quoted('x'.repeat(120))).toBe(JSON.stringify('x'.repeat(120)));
    expect(quoted('x'.repeat(121))).toBe(`${JSON.stringify('x'.repeat(100))}… (121 characters)`);
    expect(abbreviate('y'.repeat(80))).toBe('y'.repeat(80));
    expect(abbreviate('y'.repeat(81))).toBe(`${'y'.repeat(60)}… (81 characters)`);
  });

  it('a megabyte entry in a sigma list or a class label list makes a short message', () => {
    const big = 'z'.repeat(1_000_000);
    for (const fn of [() => parseSigmaList(`14.6, ${big}, 0`), () => parseClassLabels(`207, ${big}`, 999)]) {
      let message = '';
      try {
        fn();
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/\(1000000 characters\)/);
      expect(message.length).toBeLessThan(300);
    }
  });
});
