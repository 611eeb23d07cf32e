import { describe, expect, it } from 'vitest';
import { readWindow } from '../../domain/stripe-clock';

const stateTimeOfRead = (read: Parameters<typeof readWindow>[0]) => readWindow(read).from;

const at = (iso: string) => Date.parse(iso);

describe('readWindow', () => {
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

  it('says the read happened before the end of the second its answer is dated', () => {
    const read = { askedAt: at('2026-11-28T09:00:00.100Z'), roundTripMs: 250, serverDate: 'Sat, 28 Nov 2026 08:00:07 GMT' };
    expect(readWindow(read).until.toISOString()).toBe('2026-11-28T08:00:08.000Z');
  });

  it('falls back to our clock at the asking without a readable Date', () => {
    const askedAt = at('2026-11-28T08:00:00.000Z');
    expect(stateTimeOfRead({ askedAt, roundTripMs: 40, serverDate: undefined }).getTime()).toBe(askedAt);
    expect(stateTimeOfRead({ askedAt, roundTripMs: 40, serverDate: 'yesterday-ish' }).getTime()).toBe(askedAt);
    // Until a second after the answer came, on our clock too.
    expect(readWindow({ askedAt, roundTripMs: 40, serverDate: undefined }).until.getTime()).toBe(askedAt + 1040);
  });
});
