import { describe, expect, it } from 'vitest';
import { chargeStage, furtherAlong, invoiceStage, mayBeEitherSide, mirrorVerdict, sameColumnValue, sameRowContents, sameRowSet, storedStateEnds, subscriptionStage } from '../../domain/mirror-compare';

const at = (iso: string) => new Date(iso);

describe('mirror verdict', () => {
  const event = at('2026-03-01T10:00:05Z');
  const differs = (answer: boolean) => () => Promise.resolve(answer);
  const asked = () => Promise.reject(new Error('contents must not be compared here'));

  it('trusts an event for an object not mirrored yet, unless its list is truncated', async () => {
    expect(await mirrorVerdict({ eventAt: event, storedAt: null, storedUntil: null, truncated: false, differs: asked })).toBe('clear');
    expect(await mirrorVerdict({ eventAt: event, storedAt: null, storedUntil: null, truncated: true, differs: asked })).toBe('doubt');
  });

  it('calls state from a later second stale, even when the event is truncated', async () => {
    expect(await mirrorVerdict({ eventAt: event, storedAt: at('2026-03-01T10:00:06Z'), storedUntil: null, truncated: true, differs: asked })).toBe('stale');
    expect(await mirrorVerdict({ eventAt: event, storedAt: at('2026-03-01T10:01:00Z'), storedUntil: null, truncated: false, differs: asked })).toBe('stale');
  });

  it('trusts an event newer than the stored second without comparing', async () => {
    expect(await mirrorVerdict({ eventAt: event, storedAt: at('2026-03-01T10:00:04.999Z'), storedUntil: null, truncated: false, differs: asked })).toBe('clear');
  });

  it('doubts a same-second event only when its contents differ (a sync fetch inside that second counts)', async () => {
    for (const stored of ['2026-03-01T10:00:05Z', '2026-03-01T10:00:05.900Z']) {
      expect(await mirrorVerdict({ eventAt: event, storedAt: at(stored), storedUntil: null, truncated: false, differs: differs(true) })).toBe('doubt');
      expect(await mirrorVerdict({ eventAt: event, storedAt: at(stored), storedUntil: null, truncated: false, differs: differs(false) })).toBe('clear');
    }
  });

  it("doubts an event from a second a read's window reaches into, when their contents differ", async () => {
    // Read at the earliest at :04.700, answered within :05 (its Date): it may have come after the event.
    const read = { storedAt: at('2026-03-01T10:00:04.700Z'), storedUntil: at('2026-03-01T10:00:06Z') };
    expect(await mirrorVerdict({ eventAt: event, ...read, truncated: false, differs: differs(true) })).toBe('doubt');
    expect(await mirrorVerdict({ eventAt: event, ...read, truncated: false, differs: differs(false) })).toBe('clear');
    // An event from the second after the read's window is newer, whatever it holds.
    expect(await mirrorVerdict({ eventAt: at('2026-03-01T10:00:06Z'), ...read, truncated: false, differs: asked })).toBe('clear');
    // A window that ended as the event's second began: the read came first.
    expect(await mirrorVerdict({ eventAt: event, storedAt: at('2026-03-01T10:00:03.900Z'), storedUntil: at('2026-03-01T10:00:05Z'), truncated: false, differs: asked })).toBe('clear');
  });
});

describe('when a stored state is over', () => {
  it("ends an event's state with its second (it happened somewhere in it), a read's with its window", () => {
    const second = at('2026-03-01T10:00:05Z').getTime();
    expect(storedStateEnds(second, null)).toBe(second + 1000);
    // A state stored before reads kept their window: dated within a second, over with it.
    expect(storedStateEnds(second + 640, null)).toBe(second + 1000);
    expect(storedStateEnds(second + 640, new Date(second + 1700))).toBe(second + 1700);
  });

  it('tells a stored state that may be on either side of a read from one dates can order', () => {
    const second = at('2026-03-01T10:00:05Z').getTime();
    // A read answered in that second after a 300 ms round trip.
    const read = { from: new Date(second - 300), until: new Date(second + 1000) };
    expect(mayBeEitherSide(second, null, read)).toBe(true); // an event of the read's second
    expect(mayBeEitherSide(second - 1000, null, read)).toBe(true); // of the second before, which the round trip reaches into
    expect(mayBeEitherSide(second - 2000, null, read)).toBe(false); // older for sure
    expect(mayBeEitherSide(second + 1000, null, read)).toBe(false); // newer for sure
    expect(mayBeEitherSide(second - 2000, new Date(second - 299), read)).toBe(true); // a read whose window reaches into this one's
  });
});

describe('comparing what the mirror would write with what it holds', () => {
  it('reads jsonb text against parsed values regardless of key order', () => {
    expect(sameColumnValue('{"a":1,"b":[{"y":2,"x":1}]}', { b: [{ x: 1, y: 2 }], a: 1 })).toBe(true);
    expect(sameColumnValue('{"a":1}', { a: 2 })).toBe(false);
    expect(sameColumnValue('[]', [])).toBe(true);
  });

  it('compares times by instant, and undefined like null', () => {
    expect(sameColumnValue(at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:00.000Z'))).toBe(true);
    expect(sameColumnValue(at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:01Z'))).toBe(false);
    expect(sameColumnValue(undefined, null)).toBe(true);
    expect(sameColumnValue(null, 'x')).toBe(false);
  });

  it('keeps text that only looks like JSON as text when the stored value is text', () => {
    expect(sameColumnValue('{"a":1}', '{"a":1}')).toBe(true);
    expect(sameColumnValue('usd', 'eur')).toBe(false);
  });

  it('ignores stored bookkeeping columns and compares lists by id', () => {
    const stored = { id: 'si_1', quantity: 2, workspace_id: 'ws_1', stripe_state_at: at('2026-01-01T00:00:00Z') };
    expect(sameRowContents({ id: 'si_1', quantity: 2 }, stored)).toBe(true);
    expect(sameRowContents({ id: 'si_1', quantity: 3 }, stored)).toBe(false);
    expect(sameRowSet([{ id: 'si_1', quantity: 2 }], [stored])).toBe(true);
    expect(sameRowSet([{ id: 'si_2', quantity: 2 }], [stored])).toBe(false);
    expect(sameRowSet([{ id: 'si_1', quantity: 2 }, { id: 'si_2', quantity: 1 }], [stored])).toBe(false);
    expect(sameRowSet([], [stored])).toBe(false);
  });
});

describe('life stages for a tie Stripe cannot settle', () => {
  const sub = (status: string, ended_at: Date | null = null) => subscriptionStage({ status, ended_at });
  const inv = (status: string, amount_paid = 0) => invoiceStage({ status, amount_paid });
  const charge = (status: string, amount_refunded = 0) => chargeStage({ status, amount_refunded });

  it('puts a subscription begun, then running, then ended', () => {
    expect(furtherAlong(sub('active'), sub('incomplete'))).toBe(true);
    expect(furtherAlong(sub('canceled'), sub('active'))).toBe(true);
    expect(furtherAlong(sub('incomplete_expired'), sub('incomplete'))).toBe(true);
    // Ended by its time, whatever the status says.
    expect(furtherAlong(sub('active', new Date()), sub('past_due'))).toBe(true);
  });

  it('leaves the running states, and states it does not know, to arrival order', () => {
    for (const [a, b] of [['active', 'past_due'], ['trialing', 'active'], ['unpaid', 'paused'], ['some_new_status', 'active']] as const) {
      expect(furtherAlong(sub(a), sub(b))).toBe(false);
      expect(furtherAlong(sub(b), sub(a))).toBe(false);
    }
  });

  it('puts an invoice draft, open, uncollectible, then paid or void, and more paid further along', () => {
    expect(furtherAlong(inv('open'), inv('draft'))).toBe(true);
    expect(furtherAlong(inv('paid', 5000), inv('open'))).toBe(true);
    expect(furtherAlong(inv('paid', 5000), inv('uncollectible'))).toBe(true);
    expect(furtherAlong(inv('void'), inv('paid', 5000))).toBe(false);
    expect(furtherAlong(inv('open', 2000), inv('open', 1000))).toBe(true);
    expect(furtherAlong(inv('open'), inv('open'))).toBe(false);
  });

  it('puts a charge pending, then settled; what was refunded does not order them (a failed refund gives some back)', () => {
    expect(furtherAlong(charge('succeeded'), charge('pending'))).toBe(true);
    expect(furtherAlong(charge('succeeded', 500), charge('succeeded', 200))).toBe(false);
    expect(furtherAlong(charge('succeeded', 200), charge('succeeded', 500))).toBe(false);
  });

  it('reads amounts Postgres gives back as text (bigint columns)', () => {
    expect(furtherAlong(invoiceStage({ status: 'open', amount_paid: '500' }), inv('open', 200))).toBe(true);
  });
});
