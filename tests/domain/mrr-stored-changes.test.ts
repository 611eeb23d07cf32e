import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MOVEMENT_KINDS, customerSummary, movementChanges, noMovementChanges, sameSummary, type Movement, type StoredMovement } from '../../domain/mrr';

const movement = (at: string, amount: number, mrrBefore: number, original: Record<string, number> = { usd: amount }): Movement => ({
  customerId: 'cus_1',
  at: new Date(at),
  kind: mrrBefore === 0 ? 'new' : amount > 0 ? 'expansion' : 'contraction',
  amount,
  mrrBefore,
  mrrAfter: mrrBefore + amount,
  original,
});

const storedAs = (movements: readonly Movement[], currency = 'usd', firstId = 1): StoredMovement[] =>
  movements.map((m, i) => ({ id: firstId + i, currency, movement: { ...m, at: new Date(m.at.getTime()), original: { ...m.original } } }));

const history = [movement('2025-01-03T00:00:00Z', 2900, 0), movement('2025-02-03T00:00:00Z', 2900, 2900), movement('2025-03-03T00:00:00Z', -1000, 5800)];

describe('movementChanges: the fewest row changes from the stored movements to the computed ones', () => {
  it('changes nothing when the stored rows are the computed movements', () => {
    const changes = movementChanges(storedAs(history), history, 'usd');
    expect(changes).toEqual({ removed: [], added: [] });
    expect(noMovementChanges(changes)).toBe(true);
  });

  it('adds only a new movement at the end of a long history', () => {
    const next = movement('2025-04-03T00:00:00Z', 1000, 4800);
    expect(movementChanges(storedAs(history), [...history, next], 'usd')).toEqual({ removed: [], added: [next] });
  });

  it('replaces only the movement that changed', () => {
    const changed = { ...history[1]!, amount: 5800, mrrAfter: 8700 };
    const changes = movementChanges(storedAs(history, 'usd', 10), [history[0]!, changed, history[2]!], 'usd');
    expect(changes).toEqual({ removed: [11], added: [changed] });
    expect(noMovementChanges(changes)).toBe(false);
  });

  it('removes every stored row of a customer who has no movements any more', () => {
    expect(movementChanges(storedAs(history, 'usd', 5), [], 'usd')).toEqual({ removed: [5, 6, 7], added: [] });
  });

  it('reads the original amounts whatever order their currencies come back in', () => {
    const mixed = movement('2025-01-03T00:00:00Z', 5000, 0, { usd: 2000, eur: 2700 });
    const stored = storedAs([mixed]);
    stored[0]!.movement.original = { eur: 2700, usd: 2000 };
    expect(movementChanges(stored, [mixed], 'usd')).toEqual({ removed: [], added: [] });
  });

  it('rewrites rows stored in another reporting currency, and tells any other field apart', () => {
    expect(movementChanges(storedAs(history, 'eur'), history, 'usd').removed).toHaveLength(3);
    const [first] = history;
    for (const different of [
      { ...first!, at: new Date(first!.at.getTime() + 1) },
      { ...first!, kind: 'reactivation' as const },
      { ...first!, mrrBefore: 1 },
      { ...first!, mrrAfter: 1 },
      { ...first!, original: { usd: 2899 } },
    ]) {
      expect(movementChanges(storedAs([first!]), [different], 'usd')).toEqual({ removed: [1], added: [different] });
    }
  });

  it('applied to the stored rows, always gives exactly the computed movements', () => {
    const arbMovement = fc.record({
      day: fc.integer({ min: 0, max: 40 }),
      kind: fc.constantFrom(...MOVEMENT_KINDS),
      amount: fc.integer({ min: -3, max: 3 }),
      mrrBefore: fc.integer({ min: 0, max: 3 }),
      eur: fc.option(fc.integer({ min: -2, max: 2 }), { nil: undefined }),
    });
    const toMovement = (m: { day: number; kind: Movement['kind']; amount: number; mrrBefore: number; eur: number | undefined }): Movement => ({
      customerId: 'cus_1',
      at: new Date(Date.UTC(2025, 0, 1 + m.day)),
      kind: m.kind,
      amount: m.amount,
      mrrBefore: m.mrrBefore,
      mrrAfter: m.mrrBefore + m.amount,
      original: m.eur === undefined ? { usd: m.amount } : { usd: m.amount, eur: m.eur },
    });
    fc.assert(
      // The computed movements keep some stored ones (as a recompute mostly does) and bring others.
      fc.property(fc.array(arbMovement, { maxLength: 12 }), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), fc.array(arbMovement, { maxLength: 6 }), (before, keep, fresh) => {
        const stored = storedAs(before.map(toMovement));
        const computed = [...before.filter((_, i) => keep[i]), ...fresh].map(toMovement);
        const changes = movementChanges(stored, computed, 'usd');
        const removed = new Set(changes.removed);
        expect(removed.size).toBe(changes.removed.length);
        const result = [...stored.filter((s) => !removed.has(s.id)).map((s) => s.movement), ...changes.added];
        const key = (m: Movement) => JSON.stringify([m.at.getTime(), m.kind, m.amount, m.mrrBefore, m.mrrAfter, Object.entries(m.original).sort()]);
        expect(result.map(key).sort()).toEqual(computed.map(key).sort());
        // Fewest changes: every stored row that some computed movement can match is kept
        // (as many as the two sides have in common, counted as multisets).
        const left = new Map<string, number>();
        for (const s of stored) left.set(key(s.movement), (left.get(key(s.movement)) ?? 0) + 1);
        let common = 0;
        for (const m of computed) {
          const n = left.get(key(m)) ?? 0;
          if (n > 0) {
            common++;
            left.set(key(m), n - 1);
          }
        }
        expect(stored.length - changes.removed.length).toBe(common);
        expect(changes.removed.length - changes.added.length).toBe(stored.length - computed.length);
      }),
    );
  });
});

describe('customer summaries', () => {
  it('hold the cohort, the MRR now and the warnings, and differ when any of them (or the currency) does', () => {
    const summary = customerSummary(history, ['no rate for chf'], 'usd');
    expect(summary).toEqual({ cohortMonth: '2025-01', mrr: 4800, currency: 'usd', warnings: ['no rate for chf'] });
    expect(customerSummary([], [], 'usd')).toEqual({ cohortMonth: null, mrr: 0, currency: 'usd', warnings: [] });
    expect(sameSummary(summary, { ...summary, warnings: [...summary.warnings] })).toBe(true);
    for (const other of [{ cohortMonth: '2025-02' }, { cohortMonth: null }, { mrr: 4801 }, { currency: 'eur' }, { warnings: [] }]) {
      expect(sameSummary(summary, { ...summary, ...other })).toBe(false);
    }
  });
});
