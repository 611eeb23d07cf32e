import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputeWorkspace } from '../activities/analytics';
import { authenticate } from '../api/auth';
import { errorHandler, notFound } from '../api/errors';
import { metricsRouter } from '../api/metrics';
import { signalsRouter } from '../api/signals';
import { seedMirror } from '../db/analytics-seed';
import { createApiToken } from '../db/api-tokens';
import { sealCustomerPii } from '../db/customer-pii';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { freshDatabase } from './helpers/db';
import { at, CustomerBuilder } from './domain/mrr-builder';

/*
 * X pays 30.00 a month from 2025-01-01 on; Y pays 20.00 from 2025-02-01 and churns
 * 2025-04-01. So MRR at the month ends Jan..Apr is 30.00, 50.00, 50.00, 30.00.
 */
const x = new CustomerBuilder('cus_x')
  .price('pro', 3000)
  .subscription('sub_x', { items: ['pro'], current_period_end: at('2025-02-01') })
  .monthly('sub_x', 'pro', 3000, '2025-01', 1);
const y = new CustomerBuilder('cus_y')
  .price('basic', 2000)
  .subscription('sub_y', { status: 'canceled', ended_at: at('2025-04-01'), canceled_at: at('2025-03-10') })
  .monthly('sub_y', 'basic', 2000, '2025-02', 2);

describe('GET /workspaces/:id/metrics/:metric', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let server: Server;
  let url: string;
  const tokens: Record<string, string> = {};
  const ws = 'ws_metrics';
  const keyring = parseKeyring(generateKeySpec());

  beforeAll(async () => {
    database = await freshDatabase();
    const { db } = database;
    await db('workspaces').insert([{ id: ws, name: 'Metrics' }, { id: 'ws_other', name: 'Other' }]);
    await seedMirror(db, ws, [x.build(), y.build()]);
    // X's contact as a sync stores it (sealed); Y has none in Stripe.
    await db('stripe_customers').where({ workspace_id: ws, id: 'cus_x' }).update(sealCustomerPii(keyring, ws, { id: 'cus_x', email: 'billing@x.example', name: 'X Corp' }));
    await recomputeWorkspace(db, ws);
    for (const role of ['viewer', 'member', 'finance', 'owner'] as const) {
      tokens[role] = (await createApiToken(db, { workspaceId: ws, role, name: role, createdBy: 'test' })).token;
    }
    tokens.other = (await createApiToken(db, { workspaceId: 'ws_other', role: 'owner', name: 'other', createdBy: 'test' })).token;
    const app = express();
    app.use(express.json());
    app.use(authenticate({ db, operatorToken: 'operator-secret' }));
    app.use(metricsRouter({ db, keyring }));
    // NPS answers come in through the signals API.
    app.use(signalsRouter({ db, requestsPerMinute: 0 }));
    app.use(notFound);
    app.use(errorHandler(pino({ level: 'silent' })));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await database?.drop();
  });

  const send = async (method: 'PUT' | 'POST', path: string, token: string | undefined, body: unknown) => {
    const res = await fetch(url + path, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  const get = async (path: string, token: string | undefined = tokens.finance) => {
    const res = await fetch(url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, body: (res.headers.get('content-type') ?? '').includes('json') ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };

  it('serves MRR per month to finance', async () => {
    const res = await get(`/workspaces/${ws}/metrics/mrr?from=2025-01&to=2025-04`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ metric: 'mrr', currency: 'usd', from: '2025-01', to: '2025-04', redacted: false });
    expect(res.body.points).toEqual([
      { period: '2025-01', mrr: 3000, customers: 1 },
      { period: '2025-02', mrr: 5000, customers: 2 },
      { period: '2025-03', mrr: 5000, customers: 2 },
      { period: '2025-04', mrr: 3000, customers: 1 },
    ]);
  });

  it('hides money from a viewer but keeps counts and ratios', async () => {
    const mrr = await get(`/workspaces/${ws}/metrics/mrr?from=2025-04&to=2025-04`, tokens.viewer);
    expect(mrr.body).toMatchObject({ redacted: true, points: [{ period: '2025-04', mrr: null, customers: 1 }] });
    const grr = await get(`/workspaces/${ws}/metrics/grr?from=2025-04&to=2025-04`, tokens.viewer);
    expect(grr.body.points).toEqual([{ period: '2025-04', startMrr: null, retainedMrr: null, grr: 0.6 }]);
    const moves = await get(`/workspaces/${ws}/metrics/movements?from=2025-04&to=2025-04`, tokens.viewer);
    expect(moves.body.points).toMatchObject([{ churn: null, counts: { churn: 1 } }]);
  });

  it('serves every metric, quarterly where it applies', async () => {
    const q = await get(`/workspaces/${ws}/metrics/movements?from=2025-01&to=2025-06&granularity=quarter`);
    expect(q.body.points).toMatchObject([
      { period: '2025-Q1', new: 5000, churn: 0, endMrr: 5000 },
      { period: '2025-Q2', new: 0, churn: -2000, endMrr: 3000 },
    ]);
    const churn = await get(`/workspaces/${ws}/metrics/churn-rate?from=2025-04&to=2025-04`);
    expect(churn.body.points).toMatchObject([{ customersAtStart: 2, churnedCustomers: 1, customerChurnRate: 0.5 }]);
    const cohorts = await get(`/workspaces/${ws}/metrics/cohorts?from=2025-01&to=2025-02`);
    expect((cohorts.body.points as { cohort: string; customers: number; initialMrr: number }[]).map((c) => [c.cohort, c.customers, c.initialMrr])).toEqual([
      ['2025-01', 1, 3000],
      ['2025-02', 1, 2000],
    ]);
    for (const metric of ['arpa', 'ltv', 'retention', 'nrr', 'quick-ratio', 'nps']) {
      const res = await get(`/workspaces/${ws}/metrics/${metric}?from=2025-01&to=2025-04`);
      expect(res.status, metric).toBe(200);
      expect(Array.isArray(res.body.points), metric).toBe(true);
    }
  });

  it('exports CSV', async () => {
    const res = await get(`/workspaces/${ws}/metrics/mrr?from=2025-01&to=2025-02&format=csv`);
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/csv');
    expect(res.text).toBe('period,mrr,customers\r\n2025-01,3000,1\r\n2025-02,5000,2\r\n');
    const cohorts = await get(`/workspaces/${ws}/metrics/cohorts?from=2025-02&to=2025-02&format=csv`);
    expect(cohorts.text.split('\r\n')[0]).toBe('cohort,cohortCustomers,initialMrr,age,period,customers,mrr,customerRetention,mrrRetention');
  });

  it('drills down to the movements and customers behind a figure', async () => {
    const churn = await get(`/workspaces/${ws}/metrics/movements/drilldown?period=2025-04&kind=churn`);
    expect(churn.body.movements).toEqual([
      { customerId: 'cus_y', name: null, email: null, at: '2025-04-01T00:00:00.000Z', kind: 'churn', amount: -2000, mrrBefore: 2000, mrrAfter: 0, original: { usd: -2000 } },
    ]);
    const ofX = await get(`/workspaces/${ws}/metrics/movements/drilldown?period=2025&customerId=cus_x`);
    expect(ofX.body.movements).toMatchObject([{ customerId: 'cus_x', name: 'X Corp', email: 'billing@x.example', kind: 'new', amount: 3000 }]);
    // The CSV's columns: the customer's id, name and email first.
    const csv = await get(`/workspaces/${ws}/metrics/movements/drilldown?period=2025&customerId=cus_x&format=csv`);
    expect(csv.text.split('\r\n')[0]).toBe('customerId,name,email,at,kind,amount,mrrBefore,mrrAfter,original.usd');
    expect(csv.text.split('\r\n')[1]).toMatch(/^cus_x,X Corp,billing@x\.example,/);
    const monthly = await get(`/workspaces/${ws}/metrics/grr/drilldown?period=2025-04`);
    expect((monthly.body.movements as { kind: string }[]).map((m) => m.kind)).toEqual(['churn']);
    const yearly = await get(`/workspaces/${ws}/metrics/nrr/drilldown?period=2025-12&window=trailing12`);
    expect((yearly.body.movements as { kind: string }[]).map((m) => m.kind)).toEqual(['churn']);
    const paying = await get(`/workspaces/${ws}/metrics/mrr/drilldown?period=2025-02`);
    expect(paying.body.customers).toEqual([
      { customerId: 'cus_x', name: 'X Corp', email: 'billing@x.example', mrr: 3000 },
      { customerId: 'cus_y', name: null, email: null, mrr: 2000 },
    ]);
    const members = await get(`/workspaces/${ws}/metrics/cohorts/drilldown?cohort=2025-02`, tokens.viewer);
    expect(members.body).toMatchObject({ redacted: true, customers: [{ customerId: 'cus_y', mrr: null }] });
  });

  it('rejects bad input naming the field, and callers without access', async () => {
    const badMonth = await get(`/workspaces/${ws}/metrics/mrr?from=2025-13`);
    expect(badMonth.status).toBe(400);
    expect(JSON.stringify(badMonth.body)).toContain('from');
    const unknown = await get(`/workspaces/${ws}/metrics/revenue`);
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain('invalid metric');
    const extra = await get(`/workspaces/${ws}/metrics/mrr?colour=red`);
    expect(extra.status).toBe(400);
    expect(JSON.stringify(extra.body)).toContain('colour');
    const reversed = await get(`/workspaces/${ws}/metrics/mrr?from=2025-05&to=2025-01`);
    expect(reversed.status).toBe(400);
    const quarterly = await get(`/workspaces/${ws}/metrics/grr?granularity=quarter`);
    expect(quarterly.status).toBe(400);
    expect((await get(`/workspaces/${ws}/metrics/mrr`, '')).status).toBe(401);
    expect((await get(`/workspaces/${ws}/metrics/mrr`, tokens.other)).status).toBe(403);
  });

  it('records NPS answers from the signals API into NPS by cohort', async () => {
    const bad = await send('POST', `/workspaces/${ws}/signals/nps`, tokens.member, { customerId: 'cus_x', score: 11 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('score');
    expect((await send('POST', `/workspaces/${ws}/signals/nps`, tokens.viewer, { customerId: 'cus_x', score: 9 })).status).toBe(403);
    const ok = await send('POST', `/workspaces/${ws}/signals/nps`, tokens.member, { id: 'survey-7/cus_x', customerId: 'cus_x', score: 10, at: '2025-05-01T00:00:00Z' });
    expect(ok.status).toBe(201);
    // Sent again under its id (a retry): counted once, the first answer's id back.
    const again = await send('POST', `/workspaces/${ws}/signals/nps`, tokens.member, { id: 'survey-7/cus_x', customerId: 'cus_x', score: 10, at: '2025-05-01T00:00:00Z' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: (ok.body as { id: number }).id, duplicate: true });
    // The same id for another answer is refused, not taken for a retry.
    const reused = await send('POST', `/workspaces/${ws}/signals/nps`, tokens.member, { id: 'survey-7/cus_x', customerId: 'cus_x', score: 3 });
    expect(reused.status).toBe(409);
    expect(JSON.stringify(reused.body)).toContain('give each answer its own id');
    expect((await send('POST', `/workspaces/${ws}/signals/nps`, tokens.member, { customerId: 'cus_\u0000x', score: 10 })).status).toBe(400);
    const nps = await get(`/workspaces/${ws}/metrics/nps?from=2025-01&to=2025-12`);
    expect(nps.body.points).toEqual([{ cohort: '2025-01', responses: 1, promoters: 1, detractors: 0, nps: 100 }]);
  });

  it('stores exchange rates for the operator only', async () => {
    const rates = { rates: [{ currency: 'EUR', on: '2025-01-01', rate: 1.1 }] };
    expect((await send('PUT', '/exchange-rates/usd', tokens.owner, rates)).status).toBe(403);
    const bad = await send('PUT', '/exchange-rates/usd', 'operator-secret', { rates: [{ currency: 'EUR', on: '2025-13-01', rate: -1 }] });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('rates.0.on');
    expect(JSON.stringify(bad.body)).toContain('rates.0.rate');
    expect((await send('PUT', '/exchange-rates/usd', 'operator-secret', rates)).body).toMatchObject({ reportingCurrency: 'usd', stored: 1 });
  });

  it('lets owners change the settings, which recomputes the figures', async () => {
    expect((await send('PUT', `/workspaces/${ws}/metrics/settings`, tokens.finance, { churnTiming: 'cancellation' })).status).toBe(403);
    const bad = await send('PUT', `/workspaces/${ws}/metrics/settings`, tokens.owner, { churnTiming: 'never' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('churnTiming');
    const ok = await send('PUT', `/workspaces/${ws}/metrics/settings`, tokens.owner, { churnTiming: 'cancellation' });
    expect(ok.status).toBe(200);
    expect(ok.body.settings).toMatchObject({ churnTiming: 'cancellation', reportingCurrency: 'usd' });
    expect((await get(`/workspaces/${ws}/metrics/settings`, tokens.viewer)).body.settings).toMatchObject({ churnTiming: 'cancellation' });
    // Y cancelled on 2025-03-10: with churn at cancellation, March ends at 30.00.
    const mrr = await get(`/workspaces/${ws}/metrics/mrr?from=2025-03&to=2025-03`);
    expect(mrr.body.points).toEqual([{ period: '2025-03', mrr: 3000, customers: 1 }]);
  });
});
