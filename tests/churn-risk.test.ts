import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedMirror } from '../db/analytics-seed';
import { churnBacktest, churnRisks, churnRisksAt } from '../db/churn-risk';
import { createApiToken } from '../db/api-tokens';
import { openDunningCase } from '../db/dunning-cases';
import { storeRedactionSetting } from '../db/redaction';
import { storeProductSignals } from '../db/product-signals';
import { putPlaySettings } from '../db/play-settings';
import { insertWorkspace } from '../db/workspaces';
import { backtestReport, checkpointTimes, type BacktestReport } from '../domain/churn-backtest';
import { churnRisk, FIXED_TERM_NOTICE_DAYS, riskAsShown, riskLevel, type ChurnRisk, type RiskInputs, type RiskLevel } from '../domain/churn-risk';
import { ACTIVITY_WINDOW_DAYS, type CustomerActivity } from '../domain/product-activity';
import type { ProductSignal } from '../domain/product-signals';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { CustomerBuilder } from './domain/mrr-builder';
import { startApi, type TestApi } from './helpers/api';
import { freshDatabase } from './helpers/db';

const DAY = 86_400_000;
const NOW = new Date('2026-06-15T12:00:00Z');

const quiet: RiskInputs = { cancellation: null, paymentFailing: null, contractedAt: null, activity: null, latestNps: null };
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
    const risk = churnRisk({ ...quiet, cancellation: { endsAt: '2026-07-01T00:00:00Z', all: true }, paymentFailing: { since: '2026-06-10T08:00:00Z' }, contractedAt: '2026-05-02T00:00:00Z' }, NOW);
    expect(risk.score).toBe(90);
    expect(risk.level).toBe('high');
    expect(risk.reasons.map((r) => r.text)).toEqual([
      'Cancellation scheduled: their subscription ends on 2026-07-01',
      'A payment has been failing since 2026-06-10',
      'Downgraded or removed seats on 2026-05-02',
    ]);
    expect(churnRisk({ ...quiet, paymentFailing: { since: null } }, NOW).reasons[0]!.text).toBe('A subscription is past due');
    // One of several subscriptions ending (an add-on dropped) is not the customer leaving.
    expect(churnRisk({ ...quiet, cancellation: { endsAt: '2026-07-01T00:00:00Z', all: false } }, NOW).reasons).toEqual([
      { code: 'partial_cancellation', points: 15, text: 'A subscription is set to end on 2026-07-01; another goes on' },
    ]);
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

  it('hides reasons from fields a role may not see, wherever the key is, as one reason with their points', () => {
    const risk = churnRisk({ ...quiet, paymentFailing: { since: '2026-06-10T00:00:00Z' }, contractedAt: '2026-06-01T00:00:00Z', latestNps: 2, activity: activity({ tickets: { openedLast: 1, open: 1, openUrgent: 1, lastAt: null } }) }, NOW);
    expect(riskAsShown(risk, new Set())).toBe(risk);
    expect(riskAsShown(risk, new Set(['tickets', 'movements'])).reasons.map((r) => [r.code, r.points])).toEqual([
      ['payment_failing', 25],
      ['hidden', 25],
      ['nps_detractor', 10],
    ]);
  });

  it('caps the score at 100 and reads it as a level', () => {
    const everything: RiskInputs = {
      cancellation: { endsAt: '2026-07-01T00:00:00Z', all: true },
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
    // Drops an add-on at the period's end and keeps its main plan.
    const addOn = new CustomerBuilder('cus_addon')
      .price('price_main', 5000)
      .price('price_extra', 1000)
      .subscription('sub_main', { items: ['price_main'], current_period_end: ago(-20) })
      .subscription('sub_extra', { items: ['price_extra'], cancel_at_period_end: true, current_period_end: ago(-20) })
      .build();
    await seedMirror(db, ws, [payer('cus_calm'), payer('cus_leaving', { cancel: true }), payer('cus_failing'), payer('cus_shrinking'), payer('cus_gone', { ended: true }), addOn]);
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
      expect(res.body).toMatchObject({ sort: 'risk', total: 6 });
      expect((res.body as { customers: Listed[] }).customers.map((c) => [c.customerId, c.risk])).toEqual([
        ['cus_leaving', { score: 80, level: 'high' }],
        ['cus_failing', { score: 45, level: 'medium' }],
        ['cus_shrinking', { score: 35, level: 'medium' }],
        ['cus_addon', { score: 15, level: 'low' }],
        ['cus_calm', { score: 0, level: 'low' }],
        ['cus_gone', null],
      ]);
    }
    const second = await api.request('GET', `/workspaces/${ws}/customers?sort=risk&limit=2&offset=2`, { token: viewer });
    expect((second.body as { customers: Listed[] }).customers.map((c) => c.customerId)).toEqual(['cus_shrinking', 'cus_addon']);
    // Found by id prefix: the list scores only what it found.
    const found = await api.request('GET', `/workspaces/${ws}/customers?sort=risk&q=cus_a`, { token: viewer });
    expect((found.body as { total: number; customers: Listed[] }).customers.map((c) => [c.customerId, c.risk?.score])).toEqual([['cus_addon', 15]]);
  });

  it('refuses the order by risk to a role the workspace hides risk from, and ties go newest first, never by MRR', async () => {
    await storeRedactionSetting(database.db, ws, { fields: ['risk'], visibleTo: 'finance' });
    try {
      const hidden = await api.request('GET', `/workspaces/${ws}/customers?sort=risk`, { token: viewer });
      expect(hidden.status).toBe(400);
      expect(hidden.text).toContain('sort: risk is hidden for your role');
      expect((await api.request('GET', `/workspaces/${ws}/customers?sort=risk`, { token: finance })).status).toBe(200);
    } finally {
      await storeRedactionSetting(database.db, ws, { fields: [], visibleTo: 'finance' });
    }
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
    // A workspace that hides dunnings from viewers hides what that reason says, not its points.
    await storeRedactionSetting(database.db, ws, { fields: ['dunnings'], visibleTo: 'finance' });
    try {
      const shown = (await api.request('GET', `/workspaces/${ws}/customers/cus_failing`, { token: viewer })).body as { risk: ChurnRisk; dunnings: unknown };
      expect(shown.dunnings).toBeNull();
      expect(shown.risk.score).toBe(45);
      expect(shown.risk.reasons.map((r) => [r.code, r.points, r.text])).toEqual([
        ['hidden', 25, 'Reasons hidden for your role'],
        ['support_tickets', 10, '1 high-priority support ticket open'],
        ['nps_detractor', 10, 'Gave 3 out of 10 in their latest NPS answer'],
      ]);
      const full = (await api.request('GET', `/workspaces/${ws}/customers/cus_failing`, { token: finance })).body as { risk: ChurnRisk };
      expect(full.risk.reasons[0]!.text).toMatch(/^A payment has been failing since /);
    } finally {
      await storeRedactionSetting(database.db, ws, { fields: [], visibleTo: 'finance' });
    }
    const gone = await api.request('GET', `/workspaces/${ws}/customers/cus_gone`, { token: viewer });
    expect((gone.body as { risk: unknown }).risk).toBeNull();
  });
});

describe('backtestReport', () => {
  const now = new Date('2026-06-30T00:00:00Z');
  const at = (day: string) => `2026-${day}T00:00:00.000Z`;
  // A level as the least score that reaches it.
  const score: Record<RiskLevel, number> = { low: 0, medium: 25, high: 50 };
  const cp = (day: string, levels: [string, RiskLevel][]) => ({ at: at(day), scores: new Map(levels.map(([id, l]) => [id, score[l]])) });

  it('counts catches, false alarms and misses over checkpoints whose horizon has passed, and how early churns were seen', () => {
    const checkpoints = [
      cp('01-01', [['a', 'low'], ['b', 'low'], ['c', 'medium']]),
      cp('02-01', [['a', 'high'], ['b', 'low'], ['c', 'low']]),
      cp('03-01', [['a', 'high'], ['b', 'medium']]),
      // Its 90 days have not passed: it counts only for how early.
      cp('05-01', [['b', 'high']]),
    ];
    const churns = new Map([
      ['a', [at('03-15')]],
      ['b', [at('05-20')]],
    ]);
    const report = backtestReport(checkpoints, churns, 90, now, 30);
    const medium = { flagged: 4, caught: 3, churned: 4, precision: 0.75, recall: 0.75, medianLeadDays: 61, churnsSeenComing: 2, churnsWithCheckpoint: 2 };
    const high = { flagged: 2, caught: 2, churned: 4, precision: 1, recall: 0.5, medianLeadDays: 30.5, churnsSeenComing: 2, churnsWithCheckpoint: 2 };
    expect(report.levels).toEqual([
      // a flagged high on 02-01 and 03-01, both caught; churned pairs: a on 01-01, 02-01, 03-01; b on 03-01.
      { level: 'high', minScore: 50, ...high },
      // c's medium on 01-01 was a false alarm; b's medium on 03-01 a catch, seen 80 days ahead.
      { level: 'medium', minScore: 25, ...medium },
      // The radar's threshold of 30 sits between them: here the medium scores (25) fall short of it.
      { level: 'threshold', minScore: 30, ...high },
    ]);
    expect(backtestReport(checkpoints, churns, 90, now, 20).levels[2]).toEqual({ level: 'threshold', minScore: 20, ...medium });
    expect(backtestReport(checkpoints, churns, 90, now).levels.map((l) => l.level)).toEqual(['high', 'medium']);
    expect(report.checkpoints.map((c) => [c.at.slice(5, 10), c.customers, c.medium, c.high, c.churnedWithin])).toEqual([
      ['01-01', 3, 1, 0, 1],
      ['02-01', 3, 0, 1, 1],
      ['03-01', 2, 1, 1, 2],
      ['05-01', 1, 0, 1, null],
    ]);
  });

  it('says nothing it cannot divide', () => {
    expect(backtestReport([], new Map(), 90, now).levels[0]).toMatchObject({ flagged: 0, precision: null, recall: null, medianLeadDays: null });
  });

  it('places checkpoints every step back from now, oldest first', () => {
    expect(checkpointTimes(now, 14, 7).map((d) => d.toISOString().slice(0, 10))).toEqual(['2026-06-16', '2026-06-23', '2026-06-30']);
  });
});

describe('GET /workspaces/:id/churn-risk/backtest on a workspace history', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_backtest';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  let viewer: string;
  const ago = (days: number) => new Date(Date.now() - days * DAY);

  beforeAll(async () => {
    database = await freshDatabase();
    const { db } = database;
    await insertWorkspace(db, keyring, { id: ws, name: 'Backtest', webhookSecret: 'whsec_b' });
    const customer = (id: string, sub: Parameters<CustomerBuilder['subscription']>[1]) =>
      new CustomerBuilder(id).price(`price_${id}`, 5000).subscription(`sub_${id}`, { items: [`price_${id}`], ...sub }).build();
    await seedMirror(db, ws, [
      // Asked to cancel at the period's end 100 days ago; it ended 70 days ago.
      customer('cus_a', { status: 'canceled', canceled_at: ago(100), ended_at: ago(70), cancel_at: ago(70) }),
      // Cancelled at once 60 days ago: nothing to see coming.
      customer('cus_b', { status: 'canceled', canceled_at: ago(60), ended_at: ago(60) }),
      // A payment failed 120 days ago and was recovered 110 days ago; still a customer.
      customer('cus_c', {}),
      customer('cus_d', {}),
    ]);
    await db('stripe_subscriptions').where({ workspace_id: ws }).update({ start_date: ago(200) });
    await openDunningCase(db, { workspaceId: ws, invoiceId: 'in_c', customerId: 'cus_c', workflowId: `dunning:${ws}:in_c`, currency: 'usd', amountDue: 5000, failedAt: ago(120) });
    await db('dunning_cases').where({ workspace_id: ws, invoice_id: 'in_c' }).update({ outcome: 'recovered', ended_at: ago(110) });
    await db('analytics_movements').insert([
      { workspace_id: ws, customer_id: 'cus_a', at: ago(70), kind: 'churn', amount: -5000, mrr_before: 5000, mrr_after: 0, currency: 'usd' },
      { workspace_id: ws, customer_id: 'cus_b', at: ago(60), kind: 'churn', amount: -5000, mrr_before: 5000, mrr_after: 0, currency: 'usd' },
    ]);
    viewer = (await createApiToken(db, { workspaceId: ws, role: 'viewer', name: 'v', createdBy: 'test' })).token;
    api = await startApi(db, keyring);
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  it('scores each checkpoint from what was known then, and compares with who left', async () => {
    const res = await api.request('GET', `/workspaces/${ws}/churn-risk/backtest?days=175&stepDays=7&horizonDays=90`, { token: viewer });
    expect(res.status).toBe(200);
    const body = res.body as BacktestReport & { days: number };
    expect(body).toMatchObject({ days: 175, stepDays: 7, horizonDays: 90, customers: 4, sampled: 4 });
    expect(body.checkpoints).toHaveLength(26);
    // a is flagged high from the first checkpoint after it asked to cancel (98 days ago) until it ended.
    const high = body.checkpoints.filter((c) => c.high > 0).map((c) => Math.round((Date.now() - Date.parse(c.at)) / DAY));
    expect(high).toEqual([98, 91, 84, 77]);
    const highRow = { flagged: 2, caught: 2, churned: 19, precision: 1, recall: 0.105, medianLeadDays: 28, churnsSeenComing: 1, churnsWithCheckpoint: 2 };
    const mediumRow = { flagged: 4, caught: 2, churned: 19, precision: 0.5, recall: 0.105, medianLeadDays: 28, churnsSeenComing: 1, churnsWithCheckpoint: 2 };
    expect(body.levels).toEqual([
      // Complete checkpoints are 91 to 175 days back. a churned within 90 days of those from 161 down; b of those from 147 down.
      { level: 'high', minScore: 50, ...highRow },
      // c's failing payment (checkpoints 119 and 112 days back) was a false alarm.
      { level: 'medium', minScore: 25, ...mediumRow },
      // The churn radar's threshold, 50 by default, reads as high does.
      { level: 'threshold', minScore: 50, ...highRow },
    ]);
    // The workspace's own threshold, or one asked for.
    await putPlaySettings(database.db, ws, 'churn', { rollout: { mode: 'review', autoPercentage: null }, config: { threshold: 25 } }, 'test');
    const own = (await api.request('GET', `/workspaces/${ws}/churn-risk/backtest?days=175&stepDays=7&horizonDays=90`, { token: viewer })).body as BacktestReport;
    expect(own.levels[2]).toEqual({ level: 'threshold', minScore: 25, ...mediumRow });
    const asked = (await api.request('GET', `/workspaces/${ws}/churn-risk/backtest?days=175&stepDays=7&horizonDays=90&threshold=90`, { token: viewer })).body as BacktestReport;
    expect(asked.levels[2]).toMatchObject({ level: 'threshold', minScore: 90, flagged: 0 });
    expect((await api.request('GET', `/workspaces/${ws}/churn-risk/backtest?threshold=0`, { token: viewer })).status).toBe(400);
  });

  it('backtests a big workspace on a sample of its customers, the same one every time', async () => {
    const opts = { days: 175, stepDays: 7, horizonDays: 90, sample: 2 };
    const first = await churnBacktest(database.db, ws, opts, new Date());
    expect(first).toMatchObject({ customers: 4, sampled: 2 });
    expect(Math.max(...first.checkpoints.map((c) => c.customers))).toBe(2);
    const again = await churnBacktest(database.db, ws, opts, new Date());
    expect(again.levels).toEqual(first.levels);
    expect(again.checkpoints.map((c) => c.customers)).toEqual(first.checkpoints.map((c) => c.customers));
  });

  it('refuses a backtest it would not finish quickly, saying why', async () => {
    const res = await api.request('GET', `/workspaces/${ws}/churn-risk/backtest?days=730&stepDays=1`, { token: viewer });
    expect(res.status).toBe(400);
    expect(res.text).toContain('stepDays: at most 120 checkpoints');
    expect((await api.request('GET', `/workspaces/${ws}/churn-risk/backtest?horizonDays=2`, { token: viewer })).status).toBe(400);
    // 120 days a day apart is 121 checks, with today's.
    expect((await api.request('GET', `/workspaces/${ws}/churn-risk/backtest?days=120&stepDays=1`, { token: viewer })).status).toBe(400);
    expect((await api.request('GET', `/workspaces/${ws}/churn-risk/backtest?days=119&stepDays=1`, { token: viewer })).status).toBe(200);
  });
});

describe('fixed terms in the churn risk', () => {
  const ws = 'ws_fixed_term';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  const ago = (days: number) => new Date(Date.now() - days * DAY);

  beforeAll(async () => {
    database = await freshDatabase();
    const { db } = database;
    await insertWorkspace(db, parseKeyring(generateKeySpec()), { id: ws, name: 'Terms', webhookSecret: 'whsec_t' });
    const customer = (id: string, sub: Parameters<CustomerBuilder['subscription']>[1]) =>
      new CustomerBuilder(id).price(`price_${id}`, 5000).subscription(`sub_${id}`, { items: [`price_${id}`], current_period_end: ago(-20), ...sub }).build();
    const terms = [
      // A year's term set at signup 30 days ago: the contract they chose, 335 days from its end.
      { id: 'cus_term_far', began: 30, sub: { canceled_at: ago(30), cancel_at: ago(-335) } },
      // The same term 320 days in: it ends in 45 days unless they sign again.
      { id: 'cus_term_near', began: 320, sub: { canceled_at: ago(320), cancel_at: ago(-45) } },
      // Began 200 days ago and asked 5 days ago to end at the period's end: a decision to leave.
      { id: 'cus_asked', began: 200, sub: { canceled_at: ago(5), cancel_at_period_end: true } },
    ];
    await seedMirror(db, ws, terms.map((t) => customer(t.id, t.sub)));
    for (const t of terms) await db('stripe_subscriptions').where({ workspace_id: ws, id: `sub_${t.id}` }).update({ start_date: ago(t.began) });
  });

  afterAll(async () => {
    await database?.drop();
  });

  it(`counts a term set at signup only within ${FIXED_TERM_NOTICE_DAYS} days of its end, and a cancellation asked for later at once`, async () => {
    const risks = await churnRisks(database.db, ws, new Date());
    const scheduled = (id: string) => risks.get(id)?.reasons.some((r) => r.code === 'cancellation_scheduled');
    expect(risks.get('cus_term_far')?.score).toBe(0);
    expect(scheduled('cus_term_near')).toBe(true);
    expect(scheduled('cus_asked')).toBe(true);
    // The backtest reads the same rule at a past time: 300 days ago the near term was far from its end.
    const then = await churnRisksAt(database.db, ws, ago(300), ['cus_term_near']);
    expect(then.get('cus_term_near')?.score).toBe(0);
  });
});
