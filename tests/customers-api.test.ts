import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputeWorkspace } from '../activities/analytics';
import { seedMirror } from '../db/analytics-seed';
import { createApiToken } from '../db/api-tokens';
import { sealCustomerPii } from '../db/customer-pii';
import { createDraftOnce } from '../db/drafts';
import { storeRedactionSetting } from '../db/redaction';
import { closeDunningCase, openDunningCase } from '../db/dunning-cases';
import { insertWorkspace } from '../db/workspaces';
import { ROLES, type Role } from '../domain/roles';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { startApi, type TestApi } from './helpers/api';
import { freshDatabase } from './helpers/db';
import { at, CustomerBuilder } from './domain/mrr-builder';

/** X pays 30.00 a month from January 2025, 45.00 from March (a second seat); one payment failed in April and was recovered. */
const x = new CustomerBuilder('cus_x')
  .price('pro', 1500)
  .subscription('sub_x', { items: ['pro'], current_period_end: at('2025-06-01') })
  .monthly('sub_x', 'pro', 3000, '2025-01', 2, { quantity: 2 })
  .monthly('sub_x', 'pro', 4500, '2025-03', 3, { quantity: 3 });

/** Y pays 20.00 a month from February 2025. */
const y = new CustomerBuilder('cus_y').price('basic', 2000).subscription('sub_y', { items: ['basic'] }).monthly('sub_y', 'basic', 2000, '2025-02', 4);

describe('GET /workspaces/:id/customers and /customers/:customerId', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_customers';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  const tokens = {} as Record<Role, string>;
  let draftId: string;

  beforeAll(async () => {
    database = await freshDatabase();
    const { db } = database;
    await insertWorkspace(db, keyring, { id: ws, name: 'Customers', webhookSecret: 'whsec_c' });
    await insertWorkspace(db, keyring, { id: 'ws_elsewhere', name: 'Elsewhere', webhookSecret: 'whsec_e' });
    await seedMirror(db, ws, [x.build(), y.build()]);
    // Z signed up last and never paid; cusQx's id would match "cus_x" were _ a wildcard.
    await db('stripe_customers').insert([
      { workspace_id: ws, id: 'cus_z', stripe_state_at: new Date(), created: at('2025-06-01') },
      { workspace_id: ws, id: 'cusQx', stripe_state_at: new Date(), created: at('2024-01-01') },
    ]);
    await db('stripe_customers').where({ workspace_id: ws, id: 'cus_x' }).update({ created: at('2024-12-20') });
    await db('stripe_customers').where({ workspace_id: ws, id: 'cus_y' }).update({ created: at('2025-01-20'), ...sealCustomerPii(keyring, ws, { id: 'cus_y', email: 'y@y.example', name: null }) });
    await db('stripe_subscriptions').where({ workspace_id: ws, id: 'sub_x' }).update({ start_date: at('2025-01-01') });
    await db('stripe_customers').where({ workspace_id: ws, id: 'cus_x' }).update(sealCustomerPii(keyring, ws, { id: 'cus_x', email: 'billing@x.example', name: 'X Corp' }));
    await db('stripe_customers').where({ workspace_id: ws, id: 'cus_z' }).update(sealCustomerPii(keyring, ws, { id: 'cus_z', email: null, name: 'Zoë  Ångström Café, Łódź (cusQ)' }));
    await recomputeWorkspace(db, ws);
    const failedAt = new Date('2025-04-01T10:00:00Z');
    await openDunningCase(db, { workspaceId: ws, invoiceId: 'in_x_apr', customerId: 'cus_x', workflowId: `dunning:${ws}:in_x_apr`, currency: 'usd', amountDue: 4500, failedAt });
    await closeDunningCase(db, ws, 'in_x_apr', { outcome: 'recovered', stepsSent: [0], endedAt: new Date('2025-04-03T10:00:00Z') });
    const { draft } = await createDraftOnce(
      db,
      { workspaceId: ws, customerId: 'cus_x', play: 'dunning', step: 'step-0', workflowId: `dunning:${ws}:in_x_apr`, subjectRef: 'in_x_apr', templateKey: 'friendly', status: 'drafted', toAddress: 'billing@x.example', subject: 'Your payment of $45.00 did not go through', bodyHtml: '<p>$45.00</p>', bodyText: '$45.00', facts: {}, scheduledFor: null },
      'system:dunning',
    );
    draftId = draft.id;
    for (const role of ROLES) tokens[role] = (await createApiToken(db, { workspaceId: ws, role, name: role, createdBy: 'test' })).token;
    api = await startApi(db, keyring);
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  it('shows finance who the customer is, what they pay, how it moved, and their dunnings and emails', async () => {
    const res = await api.request('GET', `/workspaces/${ws}/customers/cus_x`, { token: tokens.finance });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      customerId: 'cus_x',
      name: 'X Corp',
      email: 'billing@x.example',
      mirrored: true,
      livemode: false,
      mrr: 4500,
      reportingCurrency: 'usd',
      cohortMonth: '2025-01',
      movements: [
        { at: '2025-01-01T00:00:00.000Z', kind: 'new', amount: 3000, mrrBefore: 0, mrrAfter: 3000 },
        { at: '2025-03-01T00:00:00.000Z', kind: 'expansion', amount: 1500, mrrBefore: 3000, mrrAfter: 4500 },
      ],
      subscriptions: [{ id: 'sub_x', status: 'active', currency: 'usd', startDate: '2025-01-01T00:00:00.000Z', currentPeriodEnd: '2025-06-01T00:00:00.000Z', cancelAtPeriodEnd: false, endedAt: null, items: [{ priceId: 'pro', unitAmount: 1500, amount: 1500, interval: 'month', intervalCount: 1 }] }],
      invoices: [{ status: 'paid', currency: 'usd', amountDue: 4500, amountPaid: 4500, amountRemaining: 0 }, {}, {}, { amountDue: 3000 }, { amountDue: 3000 }],
      dunnings: [{ invoiceId: 'in_x_apr', currency: 'usd', amountDue: 4500, failedAt: '2025-04-01T10:00:00.000Z', outcome: 'recovered', emailsSent: 1, endedAt: '2025-04-03T10:00:00.000Z' }],
      drafts: [{ id: draftId, play: 'dunning', step: 'step-0', status: 'drafted' }],
    });
    // A draft is listed without its text: its own page hides amounts as it does.
    expect(Object.keys((res.body as { drafts: object[] }).drafts[0]!).sort()).toEqual(['createdAt', 'id', 'play', 'status', 'step']);
  });

  it("links an invoice to Stripe's page of it only through a web address", async () => {
    const [latest, next] = (await database.db('stripe_invoices').where({ workspace_id: ws, customer_id: 'cus_x' }).orderBy('created', 'desc').limit(2).select<{ id: string }[]>('id')).map((r) => r.id);
    await database.db('stripe_invoices').where({ workspace_id: ws, id: latest }).update({ hosted_invoice_url: 'https://invoice.stripe.com/i/acct_1/test_x' });
    await database.db('stripe_invoices').where({ workspace_id: ws, id: next }).update({ hosted_invoice_url: 'javascript:alert(1)' });
    const res = await api.request('GET', `/workspaces/${ws}/customers/cus_x`, { token: tokens.viewer });
    const urls = (res.body as { invoices: { id: string; hostedInvoiceUrl: string | null }[] }).invoices.slice(0, 2).map((i) => [i.id, i.hostedInvoiceUrl]);
    expect(urls).toEqual([
      [latest, 'https://invoice.stripe.com/i/acct_1/test_x'],
      [next, null],
    ]);
  });

  it('hides every amount from a viewer, and keeps the rest', async () => {
    const res = await api.request('GET', `/workspaces/${ws}/customers/cus_x`, { token: tokens.viewer });
    expect(res.status).toBe(200);
    const body = res.body as { mrr: unknown; name: string; movements: { amount: unknown; mrrAfter: unknown; kind: string }[]; dunnings: { amountDue: unknown; outcome: string }[]; subscriptions: { items: { unitAmount: unknown; amount: unknown }[] }[] };
    expect(body.name).toBe('X Corp');
    expect(body.mrr).toBeNull();
    expect(body.movements.map((m) => [m.kind, m.amount, m.mrrAfter])).toEqual([['new', null, null], ['expansion', null, null]]);
    expect(body.dunnings[0]).toMatchObject({ amountDue: null, outcome: 'recovered' });
    expect(body.subscriptions[0]!.items[0]).toMatchObject({ unitAmount: null, amount: null });
    const invoices = (res.body as { invoices: { status: string; amountDue: unknown; amountPaid: unknown; amountRemaining: unknown }[] }).invoices;
    expect(invoices).toHaveLength(5);
    expect(invoices.every((i) => i.status === 'paid' && i.amountDue === null && i.amountPaid === null && i.amountRemaining === null)).toBe(true);
  });

  it('lists customers: the biggest payers first for finance, the newest first for a viewer, who cannot sort by MRR', async () => {
    const list = await api.request('GET', `/workspaces/${ws}/customers`, { token: tokens.finance });
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ sort: 'mrr', total: 4, offset: 0, limit: 50 });
    expect((list.body as { customers: unknown[] }).customers).toEqual([
      { customerId: 'cus_x', name: 'X Corp', email: 'billing@x.example', mrr: 4500, currency: 'usd', cohortMonth: '2025-01', created: '2024-12-20T00:00:00.000Z', risk: { score: 0, level: 'low' } },
      { customerId: 'cus_y', name: null, email: 'y@y.example', mrr: 2000, currency: 'usd', cohortMonth: '2025-02', created: '2025-01-20T00:00:00.000Z', risk: { score: 0, level: 'low' } },
      // No live subscription: no one to save, so no risk.
      { customerId: 'cusQx', name: null, email: null, mrr: 0, currency: 'usd', cohortMonth: null, created: '2024-01-01T00:00:00.000Z', risk: null },
      { customerId: 'cus_z', name: 'Zoë  Ångström Café, Łódź (cusQ)', email: null, mrr: 0, currency: 'usd', cohortMonth: null, created: '2025-06-01T00:00:00.000Z', risk: null },
    ]);
    const ids = (body: unknown) => (body as { customers: { customerId: string }[] }).customers.map((c) => c.customerId);
    const viewer = await api.request('GET', `/workspaces/${ws}/customers`, { token: tokens.viewer });
    expect(viewer.body).toMatchObject({ sort: 'newest', total: 4 });
    expect(ids(viewer.body)).toEqual(['cus_z', 'cus_y', 'cus_x', 'cusQx']);
    expect((viewer.body as { customers: { mrr: unknown }[] }).customers.every((c) => c.mrr === null)).toBe(true);
    const byMrr = await api.request('GET', `/workspaces/${ws}/customers?sort=mrr`, { token: tokens.viewer });
    expect(byMrr.status).toBe(400);
    expect(byMrr.text).toContain('sort: mrr is hidden for your role');
    // By risk, any role: cus_x and cus_y tie at 0, and ties go newest first (y), not by MRR (x).
    const byRisk = await api.request('GET', `/workspaces/${ws}/customers?sort=risk`, { token: tokens.viewer });
    expect(ids(byRisk.body)).toEqual(['cus_y', 'cus_x', 'cus_z', 'cusQx']);
    // A page at a time, with the total.
    const second = await api.request('GET', `/workspaces/${ws}/customers?limit=1&offset=1`, { token: tokens.finance });
    expect(second.body).toMatchObject({ total: 4, customers: [{ customerId: 'cus_y' }] });
  });

  it('finds customers by a piece of their name, in any case and with or without accents, or by the start of their id', async () => {
    const found = async (q: string, token = tokens.member) => {
      const res = await api.request('GET', `/workspaces/${ws}/customers?q=${encodeURIComponent(q)}&sort=newest`, { token });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return (res.body as { customers: { customerId: string }[] }).customers.map((c) => c.customerId);
    };
    expect(await found('corp')).toEqual(['cus_x']);
    expect(await found(' x   CORP ')).toEqual(['cus_x']);
    expect(await found('angstrom cafe')).toEqual(['cus_z']);
    expect(await found('ÅNGSTRÖM')).toEqual(['cus_z']);
    expect(await found('lodz')).toEqual(['cus_z']);
    // An id's start and a name both match: cus_z's name says cusQ.
    expect(await found('cusQ')).toEqual(['cus_z', 'cusQx']);
    // "cus_…" is an id being typed: names are not searched for it; one that cannot be an id is a name.
    expect(await found('cus_x')).toEqual(['cus_x']);
    expect(await found('(cusQ)')).toEqual(['cus_z']);
    expect(await found('cus_x-')).toEqual([]);
    // Wildcards are only themselves, in names as in ids.
    expect(await found('c%')).toEqual([]);
    expect(await found('nobody')).toEqual([]);
    const bad = await api.request('GET', `/workspaces/${ws}/customers?q=${encodeURIComponent('x\u0001corp')}`, { token: tokens.member });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('q: an email address, a name, or the start of a Stripe customer id');
    // A role the workspace hides names from finds by id only: a search by name would confirm one.
    await storeRedactionSetting(database.db, ws, { fields: ['name'], visibleTo: 'finance' });
    try {
      const hidden = await api.request('GET', `/workspaces/${ws}/customers?q=${encodeURIComponent('x corp')}`, { token: tokens.member });
      expect(hidden.status).toBe(400);
      expect(hidden.text).toContain('customer names are hidden for your role');
      expect(await found('cus_x')).toEqual(['cus_x']);
      expect(await found('corp', tokens.finance)).toEqual(['cus_x']);
    } finally {
      await storeRedactionSetting(database.db, ws, { fields: [], visibleTo: 'finance' });
    }
  });

  it('says in the log when a name search met names it cannot open, which it cannot match, once in a while for each workspace', async () => {
    type Warning = { msg: string; workspaceId?: string; unopened?: number; searchesNotLogged?: number };
    const warnings: Warning[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _enc, done) => (warnings.push(JSON.parse(chunk.toString()) as Warning), done()) }));
    const logged = await startApi(database.db, keyring, { log });
    const stranger = parseKeyring(generateKeySpec('elsewhere'));
    const sealedElsewhere = sealCustomerPii(stranger, ws, { id: 'cus_z', email: null, name: 'Zoë Ångström' });
    const before = await database.db('stripe_customers').where({ workspace_id: ws, id: 'cus_z' }).first<{ name: string }>('name');
    const warning = (workspaceId: string) => expect.objectContaining({ msg: expect.stringMatching(/^customer search: names that cannot be opened/) as unknown, workspaceId, unopened: 1, searchesNotLogged: 0 }) as unknown;
    try {
      await database.db('stripe_customers').where({ workspace_id: ws, id: 'cus_z' }).update({ name: sealedElsewhere.name });
      const search = (q: string, workspace = ws, token = tokens.member) => logged.request('GET', `/workspaces/${workspace}/customers?q=${encodeURIComponent(q)}`, { token });
      const res = await search('corp');
      expect(res.status).toBe(200);
      expect((res.body as { customers: { customerId: string }[] }).customers.map((c) => c.customerId)).toEqual(['cus_x']);
      expect(warnings).toEqual([warning(ws)]);
      // Searching on (as a name is typed), the workspace's searches are not logged again for a while.
      for (const q of ['co', 'cor', 'corp']) expect((await search(q)).status).toBe(200);
      expect(warnings).toEqual([warning(ws)]);
      // Another workspace's are logged on their own.
      await database.db('stripe_customers').insert({ workspace_id: 'ws_elsewhere', id: 'cus_e', stripe_state_at: new Date(), created: at('2025-01-01'), name: sealCustomerPii(stranger, 'ws_elsewhere', { id: 'cus_e', email: null, name: 'Elsewhere Ltd' }).name });
      const elsewhere = (await createApiToken(database.db, { workspaceId: 'ws_elsewhere', role: 'member', name: 'member', createdBy: 'test' })).token;
      expect((await search('ltd', 'ws_elsewhere', elsewhere)).status).toBe(200);
      expect(warnings).toEqual([warning(ws), warning('ws_elsewhere')]);
    } finally {
      await database.db('stripe_customers').where({ workspace_id: ws, id: 'cus_z' }).update({ name: before.name });
      await database.db('stripe_customers').where({ workspace_id: 'ws_elsewhere', id: 'cus_e' }).delete();
      await logged.close();
    }
  });

  it('finds customers by email in any case, or by the start of their id, underscores matching only themselves', async () => {
    const found = async (q: string) => {
      const res = await api.request('GET', `/workspaces/${ws}/customers?q=${encodeURIComponent(q)}`, { token: tokens.member });
      expect(res.status).toBe(200);
      return res.body as { total: number; customers: { customerId: string }[] };
    };
    expect((await found(' Billing@X.example ')).customers.map((c) => c.customerId)).toEqual(['cus_x']);
    expect(await found('nobody@x.example')).toEqual(expect.objectContaining({ total: 0, customers: [] }));
    expect((await found('cus_')).total).toBe(3);
    expect((await found('cus%')).total).toBe(0);
    expect((await found('')).total).toBe(4);
    expect((await api.request('GET', `/workspaces/${ws}/customers?limit=500`, { token: tokens.member })).status).toBe(400);
  });

  it("refuses a search by email to a role the workspace hides emails from, which would confirm an address", async () => {
    await storeRedactionSetting(database.db, ws, { fields: ['email'], visibleTo: 'finance' });
    try {
      const hidden = await api.request('GET', `/workspaces/${ws}/customers?q=${encodeURIComponent('billing@x.example')}`, { token: tokens.member });
      expect(hidden.status).toBe(400);
      expect(hidden.text).toContain('customer emails are hidden for your role');
      const listed = await api.request('GET', `/workspaces/${ws}/customers?q=x%20corp`, { token: tokens.member });
      expect((listed.body as { customers: { email: unknown; name: unknown }[] }).customers).toEqual([expect.objectContaining({ email: null, name: 'X Corp' })]);
      expect((await api.request('GET', `/workspaces/${ws}/customers?q=${encodeURIComponent('billing@x.example')}`, { token: tokens.finance })).status).toBe(200);
    } finally {
      await storeRedactionSetting(database.db, ws, { fields: [], visibleTo: 'finance' });
    }
  });

  it("orders by MRR for no one the workspace's own redaction hides MRR from, finance included", async () => {
    await storeRedactionSetting(database.db, ws, { fields: ['mrr'], visibleTo: 'owner' });
    try {
      const finance = await api.request('GET', `/workspaces/${ws}/customers`, { token: tokens.finance });
      expect(finance.body).toMatchObject({ sort: 'newest', total: 4 });
      expect((finance.body as { customers: { mrr: unknown }[] }).customers.every((c) => c.mrr === null)).toBe(true);
      expect((await api.request('GET', `/workspaces/${ws}/customers?sort=mrr`, { token: tokens.finance })).status).toBe(400);
      expect((await api.request('GET', `/workspaces/${ws}/customers`, { token: tokens.owner })).body).toMatchObject({ sort: 'mrr' });
    } finally {
      await storeRedactionSetting(database.db, ws, { fields: [], visibleTo: 'finance' });
    }
  });

  it('answers 404 for a customer the workspace does not have, 400 for a malformed id, and refuses other workspaces', async () => {
    const missing = await api.request('GET', `/workspaces/${ws}/customers/cus_nobody`, { token: tokens.viewer });
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('no customer cus_nobody');
    const bad = await api.request('GET', `/workspaces/${ws}/customers/cus%20x`, { token: tokens.viewer });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/customerId.*Stripe customer id/);
    // Another workspace's token cannot read it, and the id means nothing in its own workspace.
    const other = (await createApiToken(database.db, { workspaceId: 'ws_elsewhere', role: 'owner', name: 'o', createdBy: 'test' })).token;
    expect((await api.request('GET', `/workspaces/${ws}/customers/cus_x`, { token: other })).status).toBe(403);
    expect((await api.request('GET', `/workspaces/ws_elsewhere/customers/cus_x`, { token: other })).status).toBe(404);
  });
});
