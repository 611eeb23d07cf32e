import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Collection } from '../../sim/store';

interface Row {
  id: string;
  created: number;
  group: string;
  n: number;
}

/** Reference: filter, newest first, then cut around the cursor. */
function reference(rows: Row[], q: { limit: number; after?: string; before?: string; group?: string; even?: boolean }): { ids: string[]; hasMore: boolean } {
  const matching = [...rows].reverse().filter((r) => (q.group === undefined || r.group === q.group) && (q.even === undefined || (r.n % 2 === 0) === q.even));
  if (q.before !== undefined) {
    const cursorAt = rows.findIndex((r) => r.id === q.before);
    const newer = matching.filter((r) => rows.indexOf(r) > cursorAt);
    const page = newer.slice(Math.max(0, newer.length - q.limit));
    return { ids: page.map((r) => r.id), hasMore: newer.length > q.limit };
  }
  let from = matching;
  if (q.after !== undefined) {
    const cursorAt = rows.findIndex((r) => r.id === q.after);
    from = matching.filter((r) => rows.indexOf(r) < cursorAt);
  }
  return { ids: from.slice(0, q.limit).map((r) => r.id), hasMore: from.length > q.limit };
}

describe('Collection pages', () => {
  it('match a plain filter-and-slice for any filter, cursor and limit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ group: fc.constantFrom('a', 'b', 'c'), n: fc.nat(100) }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 12 }),
        fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }),
        fc.option(fc.boolean(), { nil: undefined }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.boolean(),
        (specs, limit, group, even, cursorPick, backwards) => {
          const rows: Row[] = specs.map((s, i) => ({ id: `obj_${i}`, created: 1000 + Math.floor(i / 3), ...s }));
          const c = new Collection<Row>({ group: (r) => r.group });
          for (const r of rows) c.add(r);
          const cursor = cursorPick !== undefined && rows.length > 0 ? rows[cursorPick % rows.length]!.id : undefined;
          const page = c.page({
            limit,
            ...(cursor !== undefined && !backwards ? { startingAfter: c.position(cursor)! } : {}),
            ...(cursor !== undefined && backwards ? { endingBefore: c.position(cursor)! } : {}),
            ...(group !== undefined ? { candidates: c.indexed('group', group)! } : {}),
            ...(even !== undefined ? { match: (r: Row) => (r.n % 2 === 0) === even } : {}),
          });
          const expected = reference(rows, { limit, group, even, ...(cursor !== undefined ? (backwards ? { before: cursor } : { after: cursor }) : {}) });
          expect(page.data.map((r) => r.id)).toEqual(expected.ids);
          expect(page.hasMore).toBe(expected.hasMore);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses a duplicate id', () => {
    const c = new Collection<Row>();
    c.add({ id: 'x', created: 1, group: 'a', n: 0 });
    expect(() => c.add({ id: 'x', created: 2, group: 'a', n: 0 })).toThrow(/duplicate id x/);
  });
});
