import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputeWorkspace } from '../../activities/analytics';
import { seedMirror } from '../../db/analytics-seed';
import { createApiToken } from '../../db/api-tokens';
import { listAudit } from '../../db/audit';
import { createDraftOnce } from '../../db/drafts';
import { insertMember } from '../../db/members';
import { createSession } from '../../db/sessions';
import { findOrCreateUser } from '../../db/users';
import { insertWorkspace } from '../../db/workspaces';
import { EXAMPLE_DUNNING_FACTS } from '../../domain/dunning-templates';
import { redact, redactionPolicy, REVENUE_HIDDEN } from '../../domain/redaction';
import { ROLES, type Role } from '../../domain/roles';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { at, CustomerBuilder } from '../domain/mrr-builder';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';

describe('redaction rule', () => {
  it('nulls revenue fields at any depth, keeps Money currencies, counts, ratios and shape', () => {
    const value = { period: '2025-01', mrr: 5000, grr: 0.9, counts: { new: 2, churn: 1 }, new: 3000, plan: { monthlyValue: { amount: 9900, currency: 'usd' } }, rows: [{ amount: 1, at: new Date(0), original: { eur: -100 } }] };
    expect(redact(value, REVENUE_HIDDEN)).toEqual({ period: '2025-01', mrr: null, grr: 0.9, counts: { new: 2, churn: 1 }, new: null, plan: { monthlyValue: { amount: null, currency: 'usd' } }, rows: [{ amount: null, at: new Date(0), original: null }] });
    expect(redact(value, redactionPolicy('finance'))).toBe(value);
    // A plan's price is hidden; its limits are counts, whatever an owner named them.
    const plan = { planName: 'Growth', monthlyAmount: 9900, currency: 'usd', limits: { seats: 5, revenue: 3, amount: null } };
    expect(redact(plan, REVENUE_HIDDEN)).toEqual({ planName: 'Growth', monthlyAmount: null, currency: 'usd', limits: { seats: 5, revenue: 3, amount: null } });
  });

  it("hides a workspace's extra fields from the roles below visibleTo only", () => {
    const setting = { fields: ['email', 'name'], visibleTo: 'owner' as const };
    const value = { customer: { id: 'cus_1', email: 'a@example.com', name: 'A' }, mrr: 100 };
    expect(redact(value, redactionPolicy('finance', setting))).toEqual({ customer: { id: 'cus_1', email: null, name: null }, mrr: 100 });
    expect(redact(value, redactionPolicy('owner', setting))).toEqual(value);
    expect(redact(value, redactionPolicy('viewer', setting))).toEqual({ customer: { id: 'cus_1', email: null, name: null }, mrr: null });
  });
});

/** X pays 30.00 a month from 2025-01 on, so the finance roles see MRR 3000 for 2025-01..03. */
const x = new CustomerBuilder('cus_x').price('pro', 3000).subscription('sub_x', { items: ['pro'], current_period_end: at('2025-02-01') }).monthly('sub_x', 'pro', 3000, '2025-01', 3);

describe('redaction on every response path, per role', () => {
  const keyring = parseKeyring(generateKeySpec());
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  const tokens = {} as Record<Role, string>;
  /** Session cookies of members with each role: the web UI's way in gets the same redaction. */
  const sessions = {} as Record<Role, string>;
  const ws = 'ws_redaction';
  let draftId: string;
  const seesRevenue = (role: Role) => role === 'finance' || role === 'owner';

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Redaction', webhookSecret: 'whsec_r' });
    await seedMirror(database.db, ws, [x.build()]);
    await recomputeWorkspace(database.db, ws);
    for (const role of ROLES) tokens[role] = (await createApiToken(database.db, { workspaceId: ws, role, name: role, createdBy: 'test' })).token;
    for (const role of ROLES) {
      const { user } = await findOrCreateUser(database.db, keyring, `${role}@redaction.example`, 'a long enough password');
      await insertMember(database.db, keyring, { workspaceId: ws, userId: user.id, role, addedBy: 'test' });
      sessions[role] = (await createSession(database.db, user.id)).token;
    }
    const { draft } = await createDraftOnce(
      database.db,
      { workspaceId: ws, customerId: 'cus_x', play: 'dunning', step: 'step-0', workflowId: 'wf-redaction', subjectRef: 'in_1', templateKey: 'friendly', status: 'drafted', toAddress: 'jordan@example.com', subject: 's', bodyHtml: '<p>b</p>', bodyText: 'b', facts: EXAMPLE_DUNNING_FACTS, scheduledFor: null },
      'test',
    );
    draftId = draft.id;
    api = await startApi(database.db, keyring);
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  const mrrPath = `/workspaces/${ws}/metrics/mrr?from=2025-01&to=2025-03`;

  for (const [via, role] of (['token', 'session'] as const).flatMap((v) => ROLES.map((r) => [v, r] as const))) {
    it(`${role} (${via}): metrics JSON and CSV, drill-down CSV, draft facts and the dunning report`, async () => {
      const get = (path: string) => api.request('GET', path, via === 'token' ? { token: tokens[role] } : { headers: { cookie: `wysera_session=${sessions[role]}` } });
      const json = await get(mrrPath);
      expect(json.status).toBe(200);
      const points = (json.body as { points: { mrr: number | null; customers: number }[]; redacted: boolean }).points;
      expect(points.map((p) => p.mrr)).toEqual(seesRevenue(role) ? [3000, 3000, 3000] : [null, null, null]);
      expect(points.map((p) => p.customers)).toEqual([1, 1, 1]);

      const csv = await get(`${mrrPath}&format=csv`);
      expect(csv.status).toBe(200);
      const lines = csv.text.trim().split('\r\n');
      expect(lines[0]).toBe('period,mrr,customers');
      expect(lines[1]).toBe(seesRevenue(role) ? '2025-01,3000,1' : '2025-01,,1');

      const drill = await get(`/workspaces/${ws}/metrics/mrr/drilldown?period=2025-02&format=csv`);
      expect(drill.status).toBe(200);
      expect(drill.text.includes('3000')).toBe(seesRevenue(role));

      const draft = await get(`/workspaces/${ws}/drafts/${draftId}`);
      const facts = (draft.body as { draft: { facts: typeof EXAMPLE_DUNNING_FACTS } }).draft.facts;
      expect(facts.invoice.amountDue).toEqual({ amount: seesRevenue(role) ? 9900 : null, currency: 'usd' });
      expect(facts.plan?.monthlyValue.amount).toBe(seesRevenue(role) ? 9900 : null);
      expect(facts.customer.email).toBe('jordan@example.com');
      // Not money: the number of dunning steps and the customer's tenure stay for every role.
      expect([facts.step.total, facts.customer.tenureMonths]).toEqual([5, 20]);

      const recovery = await get(`/workspaces/${ws}/dunning/recovery`);
      expect(recovery.status).toBe(200);
    });
  }

  it('an owner marks more fields redacted (validated, audited); they vanish from JSON and CSV for the roles below visibleTo', async () => {
    const bad = await api.request('PUT', `/workspaces/${ws}/redaction`, { token: tokens.owner, body: { fields: ['email'], visibleTo: 'owner', colour: 'red' } });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { message: string } }).error.message).toMatch(/colour/);
    expect((await api.request('PUT', `/workspaces/${ws}/redaction`, { token: tokens.finance, body: { fields: ['email'] } })).status).toBe(403);

    const put = await api.request('PUT', `/workspaces/${ws}/redaction`, { token: tokens.owner, body: { fields: ['email', 'customers', 'name'], visibleTo: 'owner' } });
    expect(put.status).toBe(200);
    const [entry] = await listAudit(database.db, ws, { action: 'redaction.changed', limit: 10 });
    expect(entry?.after).toEqual({ fields: ['email', 'customers', 'name'], visibleTo: 'owner' });

    for (const role of ROLES) {
      const hidden = role !== 'owner';
      const draft = await api.request('GET', `/workspaces/${ws}/drafts/${draftId}`, { token: tokens[role] });
      const facts = (draft.body as { draft: { facts: typeof EXAMPLE_DUNNING_FACTS } }).draft.facts;
      expect({ role, email: facts.customer.email }).toEqual({ role, email: hidden ? null : 'jordan@example.com' });
      const csv = await api.request('GET', `${mrrPath}&format=csv`, { token: tokens[role] });
      expect({ role, row: csv.text.split('\r\n')[1] }).toEqual({ role, row: `2025-01,${seesRevenue(role) ? '3000' : ''},${hidden ? '' : '1'}` });
      const workspace = await api.request('GET', `/workspaces/${ws}`, { token: tokens[role] });
      expect({ role, name: (workspace.body as { name: string | null }).name }).toEqual({ role, name: hidden ? null : 'Redaction' });
      const viaSession = await api.request('GET', `/workspaces/${ws}/drafts/${draftId}`, { headers: { cookie: `wysera_session=${sessions[role]}` } });
      const sessionFacts = (viaSession.body as { draft: { facts: typeof EXAMPLE_DUNNING_FACTS } }).draft.facts;
      expect({ role, session: true, email: sessionFacts.customer.email }).toEqual({ role, session: true, email: hidden ? null : 'jordan@example.com' });
    }
    const read = await api.request('GET', `/workspaces/${ws}/redaction`, { token: tokens.viewer });
    expect(read.body).toEqual({ redaction: { fields: ['email', 'customers', 'name'], visibleTo: 'owner' } });
  });
});
