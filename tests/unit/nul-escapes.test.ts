import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withoutNulEscapes } from '../../api/webhooks';

/** What the ingress stores of a value holding NULs: the same value with each NUL made U+FFFD. */
const replaced = (v: unknown): unknown => {
  const fix = (s: string) => s.replaceAll('\u0000', '\ufffd');
  if (typeof v === 'string') return fix(v);
  if (Array.isArray(v)) return v.map(replaced);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [fix(k), replaced(x)]));
  return v;
};

describe('withoutNulEscapes', () => {
  it('makes each \\u0000 escape U+FFFD, consecutive ones included, and leaves escaped backslashes before u0000 alone', () => {
    expect(withoutNulEscapes('{"a":"x\\u0000\\u0000y"}')).toBe('{"a":"x\\ufffd\\ufffdy"}');
    expect(withoutNulEscapes('{"\\u0000":1}')).toBe('{"\\ufffd":1}');
    // `C:\u0000` as text (an escaped backslash, then "u0000") is not a NUL.
    expect(withoutNulEscapes('{"path":"C:\\\\u0000"}')).toBe('{"path":"C:\\\\u0000"}');
    // An escaped backslash, then a real NUL escape.
    expect(withoutNulEscapes('{"path":"C:\\\\\\u0000"}')).toBe('{"path":"C:\\\\\\ufffd"}');
  });

  it('reads a long run of backslashes in one pass (a regular expression that looks back over it would take minutes)', () => {
    const run = '\\'.repeat(200_000);
    // An even run is escaped backslashes: the u0000 after it is text. One more makes it a NUL.
    expect(withoutNulEscapes(`"${run}u0000"`)).toBe(`"${run}u0000"`);
    expect(withoutNulEscapes(`"${run}\\u0000"`)).toBe(`"${run}\\ufffd"`);
  });

  it('gives JSON text of the same value with every NUL made U+FFFD, for any value', () => {
    const text = fc.string({ unit: fc.constantFrom('a', '\\', 'u', '0', '\u0000', '"', 'é') });
    fc.assert(
      fc.property(fc.dictionary(text, fc.oneof(text, fc.array(text), fc.integer())), (value) => {
        expect(JSON.parse(withoutNulEscapes(JSON.stringify(value)))).toEqual(replaced(value));
      }),
    );
  });
});
