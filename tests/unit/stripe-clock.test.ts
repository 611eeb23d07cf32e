import { describe, expect, it } from 'vitest';
import { stateTimeOfRead } from '../../domain/stripe-clock';

const at = (iso: string) => Date.parse(iso);

describe('stateTimeOfRead', () => {
  it("dates a read by the answer's Date less the round trip, whatever our clock says", () => {
    // Our clock an hour ahead of Stripe's: the read is still dated on Stripe's.
    const read = { askedAt: at('2026-11-28T09:00:00.100Z'), roundTripMs: 250, serverDate: 'Sat, 28 Nov 2026 08:00:07 GMT' };
    expect(stateTimeOfRead(read).toISOString()).toBe('2026-11-28T08:00:06.750Z');
  });

  it('never dates a read after the request reached Stripe, even with the clocks agreeing', () => {
    // Asked at :07.650 on both clocks, answered at :07.950; the header says :07, the second the answer began in.
    const read = { askedAt: at('2026-11-28T08:00:07.650Z'), roundTripMs: 300, serverDate: 'Sat, 28 Nov 2026 08:00:07 GMT' };
    expect(stateTimeOfRead(read).getTime()).toBeLessThanOrEqual(read.askedAt);
    expect(stateTimeOfRead(read).toISOString()).toBe('2026-11-28T08:00:06.700Z');
  });

  it('falls back to our clock at the asking without a readable Date', () => {
    const askedAt = at('2026-11-28T08:00:00.000Z');
    expect(stateTimeOfRead({ askedAt, roundTripMs: 40, serverDate: undefined }).getTime()).toBe(askedAt);
    expect(stateTimeOfRead({ askedAt, roundTripMs: 40, serverDate: 'yesterday-ish' }).getTime()).toBe(askedAt);
  });
});
