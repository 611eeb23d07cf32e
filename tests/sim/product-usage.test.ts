import { describe, expect, it } from 'vitest';
import { SimAccount } from '../../sim/account';
import { TIERS } from '../../sim/catalog';
import { productSignals, type SimProductSignal } from '../../sim/product-usage';
import { startSimulator } from '../../sim/server';
import { productSignalsBody } from '../../domain/product-signals';

const DAY_MS = 86_400_000;

describe("the simulated account's product", () => {
  const account = new SimAccount({ seed: 'product-usage', customers: 120, months: 6 });
  const signals = [...productSignals(account, 60)];
  const now = account.now * 1000;

  it('sends what the signals API takes, the same ids every time, none twice', () => {
    expect(signals.length).toBeGreaterThan(1000);
    for (let i = 0; i < signals.length; i += 1000) expect(productSignalsBody(new Date(now)).safeParse({ signals: signals.slice(i, i + 1000) }).success).toBe(true);
    expect(new Set(signals.map((s) => s.id)).size).toBe(signals.length);
    expect([...productSignals(account, 60)]).toEqual(signals);
    expect(new Set(signals.map((s) => s.type))).toEqual(new Set(['usage', 'login', 'ticket']));
    // Only whole days of the window: nothing before it, nothing after the account's clock.
    const times = signals.map((s) => Date.parse(s.at));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(Math.floor(now / DAY_MS) * DAY_MS - 60 * DAY_MS);
    expect(Math.max(...times)).toBeLessThanOrEqual(now);
  });

  it('sends the same signals for a day whatever window asks for it, so sending again sends duplicates', () => {
    const until = Math.floor(now / 1000);
    const early = [...productSignals(account, 30, until - 10 * 86_400)];
    const late = [...productSignals(account, 60, until)];
    // Both windows hold the days from 40 to 10 days back; a ticket's "solved" waits for the end of the window it is asked in.
    const shared = (list: SimProductSignal[]) => list.filter((x) => !(x.type === 'ticket' && x.status === 'solved') && Date.parse(x.at) < now - 10 * DAY_MS - 86_400_000 && Date.parse(x.at) >= now - 39 * DAY_MS);
    expect(shared(early).length).toBeGreaterThan(100);
    expect(shared(late)).toEqual(shared(early));
  });

  it('fades the use of customers who are leaving or not paying', () => {
    const reports = (customerId: string, fromDay: number, toDay: number) =>
      signals
        .filter((s): s is Extract<SimProductSignal, { type: 'usage' }> => s.type === 'usage' && s.metric === 'reports_generated' && s.customerId === customerId)
        .filter((s) => Date.parse(s.at) >= now - fromDay * DAY_MS && Date.parse(s.at) < now - toDay * DAY_MS)
        .reduce((sum, s) => sum + s.quantity, 0);
    const leaving = account.subscriptions.rows.filter((s) => (s.cancel_at_period_end || s.status === 'past_due') && s.start_date * 1000 < now - 60 * DAY_MS);
    expect(leaving.length).toBeGreaterThan(0);
    for (const s of leaving) {
      const customerId = typeof s.customer === 'string' ? s.customer : s.customer.id;
      expect(reports(customerId, 60, 45)).toBeGreaterThan(reports(customerId, 15, 0));
    }
  });

  it('brings a minority of the customers on a plan with a report allowance near it, as a real product would', () => {
    const reportsOf = new Map<string, number>();
    for (const sig of signals) {
      if (sig.type === 'usage' && sig.metric === 'reports_generated' && Date.parse(sig.at) >= now - 30 * DAY_MS) reportsOf.set(sig.customerId, (reportsOf.get(sig.customerId) ?? 0) + sig.quantity);
    }
    const allowances = account.subscriptions.rows
      .filter((s) => s.status === 'active' && !s.cancel_at_period_end && s.start_date * 1000 < now - 30 * DAY_MS)
      .flatMap((s) => {
        const tier = TIERS.find((t) => t.key === s.items.data[0]?.price.metadata.tier);
        return tier?.reportsPerMonth ? [{ customerId: typeof s.customer === 'string' ? s.customer : s.customer.id, allowance: tier.reportsPerMonth }] : [];
      });
    expect(allowances.length).toBeGreaterThan(20);
    const near = allowances.filter((a) => (reportsOf.get(a.customerId) ?? 0) >= 0.8 * a.allowance);
    // The expansion play pitches these: some, not most (the demo would open a pitch for every other customer).
    expect(near.length).toBeGreaterThan(0);
    expect(near.length / allowances.length).toBeLessThan(0.35);
  });

  it('is served as one JSON signal a line, and a bad query is refused', async () => {
    const sim = await startSimulator({ seed: 'product-usage', customers: 30, months: 3, port: 0 });
    try {
      const res = await fetch(`${sim.url}/_sim/product-signals?days=14`);
      expect(res.headers.get('content-type')).toBe('application/x-ndjson');
      const lines = (await res.text()).trim().split('\n');
      expect(lines.map((l) => JSON.parse(l) as SimProductSignal)).toEqual([...productSignals(sim.account(), 14)]);
      // A live simulator's clock runs ahead of ours: the product reports nothing that has not happened yet.
      sim.advance(10 * 86_400);
      const ahead = (await (await fetch(`${sim.url}/_sim/product-signals?days=14`)).text()).trim().split('\n').map((l) => JSON.parse(l) as SimProductSignal);
      expect(ahead.length).toBeGreaterThan(0);
      expect(Math.max(...ahead.map((s) => Date.parse(s.at)))).toBeLessThanOrEqual(Date.now());
      expect((await fetch(`${sim.url}/_sim/product-signals?days=0`)).status).toBe(400);
      expect((await fetch(`${sim.url}/_sim/product-signals?account=acct_nope`)).status).toBe(404);
    } finally {
      await sim.stop();
    }
  });
});
