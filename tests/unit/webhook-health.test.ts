import { describe, expect, it } from 'vitest';
import { endpointWarnings, QUIET_DAYS, type EndpointFacts } from '../../domain/webhook-health';

const now = new Date('2026-11-28T12:00:00Z');
const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000);
const healthy: EndpointFacts = {
  now,
  lastReceivedAt: daysAgo(0.1),
  received: [{ type: 'invoice.payment_succeeded', count: 40, setAside: 0 }],
  lastSetAsideReason: null,
  runningSubscriptions: 12,
};
const codes = (f: EndpointFacts) => endpointWarnings(f).map((w) => w.code);

describe('endpointWarnings', () => {
  it('has nothing to say of an endpoint that sends what Wysera needs', () => {
    expect(endpointWarnings(healthy)).toEqual([]);
  });

  it('warns of an endpoint silent for longer than a billing month while subscriptions run', () => {
    expect(codes({ ...healthy, lastReceivedAt: daysAgo(QUIET_DAYS - 1) })).toEqual([]);
    const [quiet] = endpointWarnings({ ...healthy, lastReceivedAt: daysAgo(QUIET_DAYS + 1), received: [] });
    expect(quiet?.code).toBe('quiet');
    expect(quiet?.message).toContain(`since ${daysAgo(QUIET_DAYS + 1).toISOString()}, while 12 subscriptions run`);
    expect(endpointWarnings({ ...healthy, lastReceivedAt: null, received: [], runningSubscriptions: 1 })[0]?.message).toMatch(/^No webhook event is on record, while 1 subscription runs/);
  });

  it('does not call an account without running subscriptions quiet', () => {
    expect(codes({ ...healthy, lastReceivedAt: null, received: [], runningSubscriptions: 0 })).toEqual([]);
  });

  it("counts the events set aside as another account's or mode's, with the latest reason", () => {
    const [foreign] = endpointWarnings({
      ...healthy,
      received: [
        { type: 'customer.subscription.updated', count: 5, setAside: 3 },
        { type: 'invoice.payment_failed', count: 2, setAside: 1 },
      ],
      lastSetAsideReason: 'not applied: the event is a test-mode event, and this workspace mirrors live-mode data',
    });
    expect(foreign?.code).toBe('foreign_events');
    expect(foreign?.message).toMatch(/^4 events of another account or mode arrived and changed nothing \(latest: not applied: the event is a test-mode event/);
  });

  it('names the types Wysera does not use, with how many arrived', () => {
    const [unused] = endpointWarnings({
      ...healthy,
      received: [...healthy.received, { type: 'product.updated', count: 1, setAside: 0 }, { type: 'customer.created', count: 2, setAside: 0 }],
    });
    expect(unused?.code).toBe('unused_types');
    expect(unused?.message).toMatch(/^3 events of 2 types Wysera does not use arrived \(customer\.created, product\.updated\)/);
  });

  it('puts the events set aside before the unused types', () => {
    expect(codes({ ...healthy, received: [{ type: 'charge.succeeded', count: 1, setAside: 1 }], lastSetAsideReason: 'not applied: x' })).toEqual(['foreign_events', 'unused_types']);
  });
});
