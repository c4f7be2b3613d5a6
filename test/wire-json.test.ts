/** The JSON the HTTP/WebSocket transport and the CLI write: non-finite numbers survive the round trip. */
import { describe, expect, it } from 'vitest';
import { fromWireJson, toWireJson } from '../electron/engine/wire-json.ts';

describe('wire JSON', () => {
  it('round-trips Infinity, -Infinity and NaN anywhere, and leaves everything else as JSON writes it', () => {
    const value = { a: Number.POSITIVE_INFINITY, b: [1, Number.NEGATIVE_INFINITY, { c: Number.NaN }], d: 'Infinity', e: null, f: -0.5 };
    const text = toWireJson(value);
    expect(text).toBe('{"a":{"$nonfinite":"Infinity"},"b":[1,{"$nonfinite":"-Infinity"},{"c":{"$nonfinite":"NaN"}}],"d":"Infinity","e":null,"f":-0.5}');
    expect(fromWireJson(text)).toEqual(value);
    // Plain JSON loses them: what the transport did before.
    expect(JSON.parse(JSON.stringify(value)).a).toBeNull();
    expect(toWireJson({ x: 1 }, 2)).toBe(JSON.stringify({ x: 1 }, null, 2));
  });

  it('revives only its own tag: other objects with that key stay objects', () => {
    const text = '{"a":{"$nonfinite":"big"},"b":{"$nonfinite":"Infinity","more":1},"c":{"$nonfinite":"-Infinity"}}';
    expect(fromWireJson(text)).toEqual({ a: { $nonfinite: 'big' }, b: { $nonfinite: 'Infinity', more: 1 }, c: Number.NEGATIVE_INFINITY });
  });
});
