import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedMirror } from '../db/analytics-seed';
import { createApiToken } from '../db/api-tokens';
import { openDunningCase } from '../db/dunning-cases';
import { storeProductSignals } from '../db/product-signals';
import { insertWorkspace } from '../db/workspaces';
import { churnRisk, riskLevel, type ChurnRisk, type RiskInputs } from '../domain/churn-risk';
import { ACTIVITY_WINDOW_DAYS, type CustomerActivity } from '../domain/product-activity';
import type { ProductSignal } from '../domain/product-signals';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { CustomerBuilder } from './domain/mrr-builder';
import { startApi, type TestApi } from './helpers/api';
import { freshDatabase } from './helpers/db';

const DAY = 86_400_000;
const NOW = new Date('2026-06-15T12:00:00Z');

const quiet: RiskInputs = { cancellationScheduledFor: null, paymentFailing: null, contractedAt: null, activity: null, latestNps: null };
const activity = (over: Partial<CustomerActivity>): CustomerActivity => ({
  windowDays: ACTIVITY_WINDOW_DAYS,
  usage: [],
  logins: { last: 0, previous: 0, lastAt: null },
  tickets: { openedLast: 0, open: 0, openUrgent: 0, lastAt: null },
  lastSignalAt: null,
  ...over,
});
const codes = (r: ChurnRisk) => r.reasons.map((x) => [x.code, x.points]);

describe('churnRisk', () => {
  it('is 0 and low for a customer with nothing against them', () => {
    expect(churnRisk(quiet, NOW)).toEqual({ score: 0, level: 'low', reasons: [] });
    const steady = activity({ usage: [{ metric: 'reports', label: 'reports', last: 100, previous: 90 }], logins: { last: 20, previous: 22, lastAt: '2026-06-14T09:00:00Z' } });
    expect(churnRisk({ ...quiet, activity: steady, latestNps: 9 }, NOW).score).toBe(0);
  });

  it('adds up what Stripe says the customer decided, each reason with its date', () => {
    const risk = churnRisk({ ...quiet, cancellationScheduledFor: '2026-07-01T00:00:00Z', paymentFailing: { since: '2026-06-10T08:00:00Z' }, contractedAt: '2026-05-02T00:00:00Z' }, NOW);
    expect(risk.score).toBe(90);
    expect(risk.level).toBe('high');
    expect(risk.reasons.map((r) => r.text)).toEqual([
      'Cancellation scheduled: the subscription ends on 2026-07-01',
      'A payment has been failing since 2026-06-10',
      'Downgraded or removed seats on 2026-05-02',
    ]);
    expect(churnRisk({ ...quiet, paymentFailing: { since: null } }, NOW).reasons[0]!.text).toBe('A subscription is past due');
  });

  it('weighs a fall in the most used metric by how steep it is, and ignores windows too thin to mean much', () => {
    const used = (last: number, previous: number) => churnRisk({ ...quiet, activity: activity({ usage: [{ metric: 'reports_generated', label: 'reports generated', last, previous }] }) }, NOW);
    expect([used(20, 100), used(40, 100), used(70, 100), used(80, 100), used(2, 9)].map((r) => r.score)).toEqual([30, 20, 10, 0, 0]);
    expect(used(20, 1000).reasons[0]!.text).toBe('reports generated down 98% on the 30 days before (1,000 → 20)');
    // The metric they used most before is the one that counts, not the one that grew.
    const two = activity({
      usage: [
        { metric: 'exports', label: 'exports', last: 50, previous: 5 },
        { metric: 'reports', label: 'reports', last: 10, previous: 100 },
      ],
    });
    expect(codes(churnRisk({ ...quiet, activity: two }, NOW))).toEqual([['usage_down', 30]]);
  });

  it('notices logins stopping or falling, tickets piling up and a detractor', () => {
    const stopped = activity({ logins: { last: 0, previous: 30, lastAt: new Date(NOW.getTime() - 20 * DAY).toISOString() } });
    expect(churnRisk({ ...quiet, activity: stopped }, NOW).reasons).toEqual([{ code: 'no_recent_login', points: 20, text: 'No login for 20 days' }]);
    const fewer = activity({ logins: { last: 10, previous: 30, lastAt: new Date(NOW.getTime() - DAY).toISOString() } });
    expect(codes(churnRisk({ ...quiet, activity: fewer }, NOW))).toEqual([['logins_down', 10]]);
    const urgent = activity({ tickets: { openedLast: 4, open: 3, openUrgent: 3, lastAt: null } });
    expect(churnRisk({ ...quiet, activity: urgent }, NOW).reasons).toEqual([{ code: 'support_tickets', points: 20, text: '3 high-priority support tickets open' }]);
    const many = activity({ tickets: { openedLast: 3, open: 1, openUrgent: 0, lastAt: null } });
    expect(churnRisk({ ...quiet, activity: many }, NOW).reasons[0]!.text).toBe('3 support tickets opened in the last 30 days');
    expect(codes(churnRisk({ ...quiet, latestNps: 6 }, NOW))).toEqual([['nps_detractor', 10]]);
    expect(churnRisk({ ...quiet, latestNps: 7 }, NOW).score).toBe(0);
  });

  it('caps the score at 100 and reads it as a level', () => {
    const everything: RiskInputs = {
      cancellationScheduledFor: '2026-07-01T00:00:00Z',
      paymentFailing: { since: null },
      contractedAt: '2026-06-01T00:00:00Z',
      activity: activity({ usage: [{ metric: 'r', label: 'r', last: 0, previous: 100 }], tickets: { openedLast: 5, open: 2, openUrgent: 2, lastAt: null } }),
      latestNps: 0,
    };
    expect(churnRisk(everything, NOW).score).toBe(100);
    expect([0, 24, 25, 49, 50, 100].map(riskLevel)).toEqual(['low', 'low', 'medium', 'medium', 'high', 'high']);
  });
});

describe('churn risk in the customer list and on the customer page', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_risk';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  let finance: string;
  let viewer: string;
  const ago = (days: number) => new Date(Date.now() - days * DAY);
  let failedAt: Date;

  beforeAll(async () => {
    database = await freshDatabase();
    const { db } = database;
    await insertWorkspace(db, keyring, { id: ws, name: 'Risk', webhookSecret: 'whsec_r' });
    const payer = (id: string, opts: { cancel?: boolean; ended?: boolean } = {}) =>
      new CustomerBuilder(id)
        .price(`price_${id}`, 5000)
        .subscription(`sub_${id}`, { items: [`price_${id}`], cancel_at_period_end: opts.cancel ?? false, current_period_end: ago(-20), ...(opts.ended ? { status: 'canceled', ended_at: ago(5) } : {}) })
        .build();
    await seedMirror(db, ws, [payer('cus_calm'), payer('cus_leaving', { cancel: true }), payer('cus_failing'), payer('cus_shrinking'), payer('cus_gone', { ended: true })]);
    const usage = (customerId: string, daysAgo: number, quantity: number, id: string): ProductSignal => ({ type: 'usage', id, customerId, at: ago(daysAgo), metric: 'reports_generated', quantity });
    await storeProductSignals(db, ws, [
      usage('cus_calm', 40, 100, 'c1'),
      usage('cus_calm', 10, 110, 'c2'),
      usage('cus_leaving', 40, 100, 'l1'),
      usage('cus_leaving', 10, 20, 'l2'),
      { type: 'ticket', id: 'f1', customerId: 'cus_failing', at: ago(3), ticket: 'T-1', status: 'opened', priority: 'urgent' },
      { type: 'login', id: 's1', customerId: 'cus_shrinking', at: ago(20) },
    ]);
    failedAt = ago(4);
    await openDunningCase(db, { workspaceId: ws, invoiceId: 'in_failing', customerId: 'cus_failing', workflowId: `dunning:${ws}:in_failing`, currency: 'usd', amountDue: 5000, failedAt });
    await db('nps_responses').insert({ workspace_id: ws, customer_id: 'cus_failing', score: 3, at: ago(30) });
    await db('analytics_movements').insert({ workspace_id: ws, customer_id: 'cus_shrinking', at: ago(25), kind: 'contraction', amount: -2000, mrr_before: 7000, mrr_after: 5000, currency: 'usd' });
    finance = (await createApiToken(db, { workspaceId: ws, role: 'finance', name: 'f', createdBy: 'test' })).token;
    viewer = (await createApiToken(db, { workspaceId: ws, role: 'viewer', name: 'v', createdBy: 'test' })).token;
    api = await startApi(db, keyring);
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  type Listed = { customerId: string; risk: { score: number; level: string } | null };

  it('sorts customers by risk for any role, the likeliest to leave first, the gone last', async () => {
    for (const token of [finance, viewer]) {
      const res = await api.request('GET', `/workspaces/${ws}/customers?sort=risk`, { token });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ sort: 'risk', total: 5 });
      expect((res.body as { customers: Listed[] }).customers.map((c) => [c.customerId, c.risk])).toEqual([
        ['cus_leaving', { score: 80, level: 'high' }],
        ['cus_failing', { score: 45, level: 'medium' }],
        ['cus_shrinking', { score: 35, level: 'medium' }],
        ['cus_calm', { score: 0, level: 'low' }],
        ['cus_gone', null],
      ]);
    }
    const second = await api.request('GET', `/workspaces/${ws}/customers?sort=risk&limit=2&offset=2`, { token: viewer });
    expect((second.body as { customers: Listed[] }).customers.map((c) => c.customerId)).toEqual(['cus_shrinking', 'cus_calm']);
  });

  it("explains a customer's risk on their page", async () => {
    const res = await api.request('GET', `/workspaces/${ws}/customers/cus_failing`, { token: viewer });
    expect((res.body as { risk: ChurnRisk }).risk).toEqual({
      score: 45,
      level: 'medium',
      reasons: [
        { code: 'payment_failing', points: 25, text: `A payment has been failing since ${failedAt.toISOString().slice(0, 10)}` },
        { code: 'support_tickets', points: 10, text: '1 high-priority support ticket open' },
        { code: 'nps_detractor', points: 10, text: 'Gave 3 out of 10 in their latest NPS answer' },
      ],
    });
    const gone = await api.request('GET', `/workspaces/${ws}/customers/cus_gone`, { token: viewer });
    expect((gone.body as { risk: unknown }).risk).toBeNull();
  });
});
