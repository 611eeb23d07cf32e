import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../db/api-tokens';
import { customerActivity, customersActivity, storeProductSignals } from '../db/product-signals';
import { insertWorkspace } from '../db/workspaces';
import { ROLES, type Role } from '../domain/roles';
import { countOf, trendText, usageSummary, type CustomerActivity } from '../domain/product-activity';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { startApi, type TestApi } from './helpers/api';
import { freshDatabase } from './helpers/db';

const DAY = 86_400_000;

describe('POST /workspaces/:id/signals and what the plays read of them', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_signals';
  const other = 'ws_signals_other';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  const tokens = {} as Record<Role, string>;
  let otherMember: string;
  const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();
  const post = (body: unknown, token = tokens.member, workspace = ws) => api.request('POST', `/workspaces/${workspace}/signals`, { token, body });
  const rows = async (workspace = ws) => Number((await database.db('product_signals').where({ workspace_id: workspace }).count<{ count: number }[]>('* as count'))[0]!.count);

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Signals', webhookSecret: 'whsec_s' });
    await insertWorkspace(database.db, keyring, { id: other, name: 'Other', webhookSecret: 'whsec_o' });
    await database.db('stripe_customers').insert({ workspace_id: ws, id: 'cus_known', stripe_state_at: new Date(), created: new Date('2025-01-01Z') });
    for (const role of ROLES) tokens[role] = (await createApiToken(database.db, { workspaceId: ws, role, name: role, createdBy: 'test' })).token;
    otherMember = (await createApiToken(database.db, { workspaceId: other, role: 'member', name: 'member', createdBy: 'test' })).token;
    api = await startApi(database.db, keyring);
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  it('stores usage, logins and tickets, and names the customers the mirror does not hold', async () => {
    const [dayAgo, twoDaysAgo] = [ago(1), ago(2)];
    const res = await post({
      signals: [
        { type: 'usage', id: 'use-1', customerId: 'cus_known', at: dayAgo, metric: 'reports_generated', quantity: 1200 },
        { type: 'usage', id: 'use-2', customerId: 'cus_known', at: ago(10), metric: 'reports_generated', quantity: 40 },
        { type: 'usage', id: 'use-3', customerId: 'cus_known', at: ago(40), metric: 'reports_generated', quantity: 3000 },
        { type: 'usage', id: 'use-4', customerId: 'cus_known', at: ago(3), metric: 'seats_invited', quantity: 3 },
        { type: 'usage', id: 'use-5', customerId: 'cus_known', at: ago(50), metric: 'exports', quantity: 7 },
        { type: 'login', id: 'log-1', customerId: 'cus_known', at: twoDaysAgo },
        { type: 'login', id: 'log-2', customerId: 'cus_known', at: ago(5) },
        { type: 'login', id: 'log-3', customerId: 'cus_known', at: ago(45) },
        { type: 'ticket', id: 'tic-1', customerId: 'cus_known', at: ago(8), ticket: 'T-1', status: 'opened', priority: 'high' },
        { type: 'ticket', id: 'tic-2', customerId: 'cus_known', at: ago(6), ticket: 'T-1', status: 'solved' },
        { type: 'ticket', id: 'tic-3', customerId: 'cus_known', at: ago(4), ticket: 'T-2', status: 'opened' },
        { type: 'login', id: 'log-new', customerId: 'cus_not_synced', at: '2026-01-01T10:00:00+02:00' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: 12, stored: 12, duplicates: 0, pastRetention: 0, conflicts: { count: 0, ids: [] }, unmirroredCustomers: { count: 1, ids: ['cus_not_synced'] } });
    // The time is kept as the instant it names (UTC).
    const stored = await database.db('product_signals').where({ workspace_id: ws, signal_id: 'log-new' }).first<{ occurred_at: Date }>('occurred_at');
    expect(stored.occurred_at.toISOString()).toBe('2026-01-01T08:00:00.000Z');

    const activity = await customerActivity(database.db, ws, 'cus_known', new Date());
    expect(activity).toMatchObject({
      windowDays: 30,
      usage: [
        { metric: 'reports_generated', label: 'reports generated', last: 1240, previous: 3000 },
        { metric: 'seats_invited', label: 'seats invited', last: 3, previous: 0 },
        { metric: 'exports', label: 'exports', last: 0, previous: 7 },
      ],
      logins: { last: 2, previous: 1 },
      tickets: { openedLast: 2, open: 1, openUrgent: 0 },
    });
    expect(activity.logins.lastAt).toBe(twoDaysAgo);
    expect(activity.lastSignalAt).toBe(dayAgo);
    expect(usageSummary(activity)).toBe('1,240 reports generated and 3 seats invited in the last 30 days');
  });

  it('stores a retried signal once, and an id repeated within a request once', async () => {
    const before = await rows();
    const login = { type: 'login', id: 'log-retried', customerId: 'cus_known', at: ago(1) };
    expect((await post({ signals: [login] })).body).toMatchObject({ received: 1, stored: 1, duplicates: 0 });
    const again = await post({ signals: [login] });
    expect(again.body).toEqual({ received: 1, stored: 0, duplicates: 1, pastRetention: 0, conflicts: { count: 0, ids: [] }, unmirroredCustomers: { count: 0, ids: [] } });
    const now = ago(0);
    const twice = await post({
      signals: [
        { type: 'login', id: 'log-twice', customerId: 'cus_known', at: now },
        { type: 'login', id: 'log-twice', customerId: 'cus_known', at: now },
      ],
    });
    expect(twice.body).toMatchObject({ received: 2, stored: 1, duplicates: 1, unmirroredCustomers: { count: 0, ids: [] } });
    expect(await rows()).toBe(before + 2);
  });

  it('names a signal sent again with something else under its id, and lets the sender correct it or delete it', async () => {
    // A customer of its own: the activity read by the tests below stays as they expect.
    const at = ago(2);
    const use = (quantity: number, customerId = 'cus_fixing') => ({ type: 'usage', id: 'use-fix', customerId, at, metric: 'reports_generated', quantity });
    const stored = () => database.db('product_signals').where({ workspace_id: ws, signal_id: 'use-fix' }).first<{ quantity: number; customer_id: string } | undefined>('quantity', 'customer_id');
    expect((await post({ signals: [use(4000)] })).body).toMatchObject({ stored: 1 });
    // Sent again with another quantity: the first one stands, and the answer says so.
    const conflicting = await post({ signals: [use(40), { type: 'login', id: 'log-beside', customerId: 'cus_fixing', at: ago(1) }] });
    expect(conflicting.body).toEqual({ received: 2, stored: 1, duplicates: 0, pastRetention: 0, conflicts: { count: 1, ids: ['use-fix'] }, unmirroredCustomers: { count: 1, ids: ['cus_fixing'] } });
    expect(await stored()).toEqual({ quantity: 4000, customer_id: 'cus_fixing' });
    // One request cannot give an id two signals.
    const torn = await post({ signals: [use(40), use(41)] });
    expect(torn.status).toBe(400);
    expect((torn.body as { error: { message: string } }).error.message).toBe('invalid signals: signals.1.id: repeats the id of signals.0 with another signal: give each signal its own id');
    // `replace` corrects it, audited with what it overwrote; resent as corrected, it is a duplicate.
    const corrected = await post({ signals: [use(40), { type: 'login', id: 'log-beside', customerId: 'cus_fixing', at: ago(3) }], replace: true }, tokens.finance);
    expect(corrected.status).toBe(200);
    expect(corrected.body).toMatchObject({ received: 2, stored: 0, duplicates: 0, replaced: 2 });
    expect(await stored()).toEqual({ quantity: 40, customer_id: 'cus_fixing' });
    expect((await post({ signals: [use(40)], replace: true })).body).toMatchObject({ stored: 0, duplicates: 1, replaced: 0 });
    const [audit] = await database.db('audit_log').where({ workspace_id: ws, action: 'product_signals.replaced' }).select<{ actor: string; before: { id: string; quantity?: number }[]; after: { id: string; quantity?: number }[] }[]>('actor', 'before', 'after');
    expect(audit!.actor).toMatch(/^token:/);
    expect(audit!.before.map((b) => [b.id, b.quantity])).toEqual([['log-beside', undefined], ['use-fix', 4000]]);
    expect(audit!.after.map((a) => [a.id, a.quantity])).toEqual([['log-beside', undefined], ['use-fix', 40]]);
    expect(await database.db('audit_log').where({ workspace_id: ws, action: 'product_signals.replaced' }).count<{ count: number }[]>('* as count')).toEqual([{ count: 1 }]);

    // A signal that should not be there at all is deleted (members and up), audited; then it is gone.
    expect((await api.request('DELETE', `/workspaces/${ws}/signals/use-fix`, { token: tokens.viewer })).status).toBe(403);
    expect((await api.request('DELETE', `/workspaces/${other}/signals/use-fix`, { token: otherMember })).status).toBe(404);
    const deleted = await api.request('DELETE', `/workspaces/${ws}/signals/use-fix`, { token: tokens.member });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ deleted: { type: 'usage', id: 'use-fix', customerId: 'cus_fixing', metric: 'reports_generated', quantity: 40 } });
    expect(await stored()).toBeUndefined();
    const missing = await api.request('DELETE', `/workspaces/${ws}/signals/use-fix`, { token: tokens.member });
    expect(missing.status).toBe(404);
    expect((missing.body as { error: { message: string } }).error.message).toBe('no product signal with id "use-fix" in this workspace');
    expect(await database.db('audit_log').where({ workspace_id: ws, action: 'product_signal.deleted', target_id: 'use-fix' }).first('actor')).toMatchObject({ actor: expect.stringMatching(/^token:/) as unknown });
    // Deleted, its id is free: sent again, it is stored.
    expect((await post({ signals: [use(41)] })).body).toMatchObject({ stored: 1, conflicts: { count: 0 } });
  });

  it('counts the signals sent from before the retention period: stored, but kept only as a customer\'s latest of a kind', async () => {
    // The test API keeps the default 400 days.
    const login = (id: string, days: number) => ({ type: 'login', id, customerId: 'cus_known', at: ago(days) });
    const [old1, old2] = [login('old-login-1', 500), login('old-login-2', 401)];
    const res = await post({ signals: [old1, old2, login('recent-login', 399)] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: 3, stored: 3, pastRetention: 2 });

    // Sent again, as a retry, or with something else under an id held already: nothing written, nothing counted.
    const oldUse = { type: 'usage', id: 'old-use', customerId: 'cus_known', at: ago(450), metric: 'exports', quantity: 1 };
    expect((await post({ signals: [oldUse] })).body).toMatchObject({ stored: 1, pastRetention: 1 });
    const again = await post({ signals: [old1, { ...oldUse, quantity: 2 }, login('old-login-3', 420)] });
    expect(again.body).toMatchObject({ received: 3, stored: 1, duplicates: 1, conflicts: { count: 1, ids: ['old-use'] }, pastRetention: 1 });
    // A correction writes the signal sent: counted, as it is kept as that one is.
    expect((await post({ signals: [{ ...oldUse, quantity: 2 }, old2], replace: true })).body).toMatchObject({ stored: 0, duplicates: 1, replaced: 1, pastRetention: 1 });
  });

  it('refuses a request with any bad signal, naming each one and where, and stores none of it', async () => {
    const before = await rows();
    const res = await post({
      signals: [
        { type: 'usage', id: 'ok-1', customerId: 'cus_known', at: ago(1), metric: 'reports_generated', quantity: 5 },
        { type: 'usage', id: 'bad-1', customerId: 'cus_known', at: ago(1), metric: 'Reports Generated', quantity: 1.5 },
        { type: 'click', id: 'bad-2', customerId: 'cus_known', at: ago(1) },
        { type: 'login', id: 'bad-3', customerId: 'acme', at: 'yesterday' },
        { type: 'login', id: 'bad-4', customerId: 'cus_known', at: new Date(Date.now() + 3_600_000).toISOString() },
        { type: 'ticket', id: 'bad-5', customerId: 'cus_known', at: ago(1), ticket: 'T-9', status: 'closed', extra: true },
        { type: 'ticket', id: 'bad\u0000-6', customerId: 'cus_known', at: ago(1), ticket: 'T-\u00009', status: 'opened' },
      ],
    });
    expect(res.status).toBe(400);
    const message = (res.body as { error: { message: string } }).error.message;
    for (const where of ['signals.1.metric', 'signals.1.quantity', 'signals.2.type', 'signals.3.customerId', 'signals.3.at', 'signals.4.at', 'signals.5.status', 'signals.5', 'signals.6.id', 'signals.6.ticket']) expect(message).toContain(`${where}:`);
    expect(message).toContain('must be a Stripe customer id');
    expect(message).toContain('must not be in the future');
    expect(message).toContain('signals.2.type: must be one of usage, login, ticket');
    expect(message).toMatch(/extra/);
    expect(message).toContain('must not contain a NUL character');
    expect(await rows()).toBe(before);
  });

  it('refuses an empty batch, a batch over 1,000 and a body that is not a batch', async () => {
    expect((await post({ signals: [] })).status).toBe(400);
    const many = Array.from({ length: 1001 }, (_, i) => ({ type: 'login', id: `many-${i}`, customerId: 'cus_known', at: ago(0) }));
    const over = await post({ signals: many });
    expect(over.status).toBe(400);
    expect((over.body as { error: { message: string } }).error.message).toMatch(/signals: .*1000/);
    const bare = await post({ type: 'login', id: 'x', customerId: 'cus_known', at: ago(0) });
    expect(bare.status).toBe(400);
    expect((bare.body as { error: { message: string } }).error.message).toContain('signals:');
    expect(await database.db('product_signals').where({ workspace_id: ws }).where('signal_id', 'like', 'many-%').first()).toBeUndefined();
  });

  it("takes signals from members and up, keeps workspaces apart, and holds the shape in the database too", async () => {
    const one = (id: string) => ({ signals: [{ type: 'login', id, customerId: 'cus_known', at: ago(0) }] });
    expect((await post(one('by-viewer'), tokens.viewer)).status).toBe(403);
    for (const role of ['member', 'finance', 'owner'] as const) expect((await post(one(`by-${role}`), tokens[role])).status).toBe(200);
    // Another workspace's token cannot write here; its own signals with the same ids are its own.
    expect((await post(one('log-1'), otherMember)).status).toBe(403);
    expect((await post(one('log-1'), otherMember, other)).body).toMatchObject({ stored: 1, unmirroredCustomers: { count: 1 } });
    expect((await customerActivity(database.db, other, 'cus_known', new Date())).logins.last).toBe(1);
    // A row the API would never write is refused by the table itself.
    await expect(database.db('product_signals').insert({ workspace_id: ws, signal_id: 'raw', customer_id: 'cus_known', kind: 'usage', metric: null, quantity: 1, occurred_at: new Date() })).rejects.toThrow(/product_signals_shape/);
  });

  it('limits each API token to its own requests a minute: past it, 429 with Retry-After, before the batch is validated or stored', async () => {
    const limited = await startApi(database.db, keyring, { signalsRequestsPerMinute: 3 });
    try {
      const second = (await createApiToken(database.db, { workspaceId: ws, role: 'member', name: 'second sender', createdBy: 'test' })).token;
      const send = (token: string, body: unknown) =>
        fetch(`${limited.url}/workspaces/${ws}/signals`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const one = (id: string) => ({ signals: [{ type: 'login', id, customerId: 'cus_known', at: ago(0) }] });
      // Interleaved, six requests in all: over a limit of 3 if the two tokens shared one.
      for (let i = 1; i <= 3; i++) {
        for (const [token, who] of [[tokens.member, 'a'], [second, 'b']] as const) expect((await send(token, one(`limit-${who}-${i}`))).status).toBe(200);
      }
      const refused = await send(tokens.member, one('limit-a-4'));
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      // Beside the failed-authentication limit's own, which every request carries.
      expect(refused.headers.get('ratelimit')).toMatch(/"3-in-1min"; r=0; t=\d+$/);
      expect(refused.headers.get('ratelimit-policy')).toMatch(/"3-in-1min"; q=3; w=60; pk=:[^:]+:$/);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toBe(
        'too many product signal requests from this API token or user (limit 3 a minute); retry later',
      );
      // Refused before the batch is validated: a bad one gets 429, not 400.
      expect((await send(second, { signals: [{ type: 'click' }] })).status).toBe(429);
      // NPS answers draw on the same allowance: past it, one is refused and stored nowhere.
      const nps = await fetch(`${limited.url}/workspaces/${ws}/signals/nps`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.member}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'limit-nps', customerId: 'cus_known', score: 9 }),
      });
      expect(nps.status).toBe(429);
      expect(await database.db('nps_responses').where({ workspace_id: ws, answer_id: 'limit-nps' }).first()).toBeUndefined();
      const stored = await database.db('product_signals').where({ workspace_id: ws }).where('signal_id', 'like', 'limit-%').orderBy('signal_id').pluck('signal_id');
      expect(stored).toEqual(['limit-a-1', 'limit-a-2', 'limit-a-3', 'limit-b-1', 'limit-b-2', 'limit-b-3']);
    } finally {
      await limited.close();
    }
    // 0 turns the limit off: as many requests as a sender makes go through, with no signals limit's headers.
    const unlimited = await startApi(database.db, keyring, { signalsRequestsPerMinute: 0 });
    try {
      for (let i = 1; i <= 5; i++) {
        const res = await fetch(`${unlimited.url}/workspaces/${ws}/signals`, { method: 'POST', headers: { authorization: `Bearer ${tokens.member}`, 'content-type': 'application/json' }, body: JSON.stringify({ signals: [{ type: 'login', id: `unlimited-${i}`, customerId: 'cus_known', at: ago(0) }] }) });
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit') ?? '').not.toMatch(/-in-1min"; r=\d+; t=\d+$/);
      }
    } finally {
      await unlimited.close();
    }
  });

  it('reads many customers in one scan of the workspace as it reads each alone, and no one else', async () => {
    const many = Array.from({ length: 600 }, (_, i) => `cus_many${i}`);
    await storeProductSignals(database.db, ws, [
      ...many.map((customerId, i) => ({ type: 'login' as const, id: `many-login-${i}`, customerId, at: new Date(Date.now() - (i % 50) * DAY) })),
      ...many.slice(0, 10).map((customerId, i) => ({ type: 'usage' as const, id: `many-use-${i}`, customerId, at: new Date(Date.now() - i * DAY), metric: 'exports', quantity: i })),
    ]);
    // Left out of the ids asked for, and another workspace's: not in the answer.
    await storeProductSignals(database.db, other, [{ type: 'login', id: 'elsewhere', customerId: 'cus_many1', at: new Date() }]);
    const asked = [...many.slice(1), 'cus_known'];
    const now = new Date();
    // Looked up by id, and (over 100 ids here) in one scan of the workspace: the same answer.
    const byId = await customersActivity(database.db, ws, asked, now, { scanAbove: 10_000 });
    const scanned = await customersActivity(database.db, ws, asked, now, { scanAbove: 100 });
    expect(scanned).toEqual(byId);
    expect(scanned.size).toBe(asked.length);
    expect(scanned.has('cus_many0')).toBe(false);
    for (const id of ['cus_many1', 'cus_many5', 'cus_many49', 'cus_many599', 'cus_known']) expect(scanned.get(id)).toEqual(await customerActivity(database.db, ws, id, now));
    expect(scanned.get('cus_many1')!.logins.last).toBe(1);
    expect(scanned.get('cus_known')!.tickets).toMatchObject({ open: 1 });
  });

  it('counts tickets, not signals: solved wins a tie, a reopen is one ticket, and one left open for 90 days is forgotten', async () => {
    const at = ago(3);
    const t = (id: string, ticket: string, status: 'opened' | 'solved', when: string) => ({ type: 'ticket' as const, id, customerId: 'cus_tickets', at: new Date(when), ticket, status, priority: 'urgent' as const });
    await storeProductSignals(database.db, ws, [
      t('t1', 'T-tie', 'opened', at),
      t('t2', 'T-tie', 'solved', at),
      t('t3', 'T-again', 'opened', ago(10)),
      t('t4', 'T-again', 'solved', ago(8)),
      t('t5', 'T-again', 'opened', ago(5)),
      t('t6', 'T-old', 'opened', ago(100)),
    ]);
    const activity = await customerActivity(database.db, ws, 'cus_tickets', new Date());
    // Opened in the last 30 days: T-tie and T-again (three "opened" signals). Open: T-again alone.
    expect(activity.tickets).toMatchObject({ openedLast: 2, open: 1, openUrgent: 1 });
  });

  it("shows the customer's activity on their page, and a customer known only from signals has one", async () => {
    const known = await api.request('GET', `/workspaces/${ws}/customers/cus_known`, { token: tokens.viewer });
    expect(known.status).toBe(200);
    expect((known.body as { activity: CustomerActivity }).activity).toMatchObject({ usage: [{ metric: 'reports_generated', last: 1240 }, {}, {}], tickets: { open: 1 } });
    const fresh = await api.request('GET', `/workspaces/${ws}/customers/cus_not_synced`, { token: tokens.viewer });
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ mirrored: false, activity: { logins: { last: 0, previous: 0, lastAt: '2026-01-01T08:00:00.000Z' }, lastSignalAt: '2026-01-01T08:00:00.000Z' } });
    expect((await api.request('GET', `/workspaces/${ws}/customers/cus_nobody`, { token: tokens.viewer })).status).toBe(404);
  });
});

describe('usageSummary', () => {
  const activity = (usage: CustomerActivity['usage'], logins: number): CustomerActivity => ({
    windowDays: 30,
    usage,
    logins: { last: logins, previous: 0, lastAt: null },
    tickets: { openedLast: 0, open: 0, openUrgent: 0, lastAt: null },
    lastSignalAt: null,
  });

  it('cites the most used metrics, else the logins, and never a quiet month', () => {
    const used = (metric: string, last: number) => ({ metric, label: metric.replace(/_/g, ' '), last, previous: 10 });
    expect(usageSummary(activity([used('api_calls', 1_234_567), used('reports', 12), used('exports', 3)], 9))).toBe('1,234,567 api calls and 12 reports in the last 30 days');
    expect(usageSummary(activity([used('exports', 0)], 1))).toBe('1 login in the last 30 days');
    expect(usageSummary(activity([], 14))).toBe('14 logins in the last 30 days');
    expect(usageSummary(activity([used('exports', 0)], 0))).toBeNull();
  });

  it('writes one of a metric in the singular', () => {
    const used = (label: string, last: number) => ({ metric: label.replace(/ /g, '_'), label, last, previous: 0 });
    expect(usageSummary(activity([used('reports generated', 1), used('queries run', 1)], 0))).toBe('1 report generated and 1 query run in the last 30 days');
    expect(usageSummary(activity([used('data exported', 1), used('address changes', 1)], 0))).toBe('1 data exported and 1 address change in the last 30 days');
    expect(countOf(1, 'business lookups')).toBe('1 business lookup');
    // -es after ch, sh, x, z, ss; -ie words; labels whose words are not plurals stay as they are.
    expect(['searches run', 'batches processed', 'boxes shipped', 'addresses verified', 'movies watched', 'cookies set'].map((l) => countOf(1, l))).toEqual(['1 search run', '1 batch processed', '1 box shipped', '1 address verified', '1 movie watched', '1 cookie set']);
    expect(['sms sent', 'analytics reports', 'new alerts sent', 'series created', 'https requests'].map((l) => countOf(1, l))).toEqual(['1 sms sent', '1 analytics report', '1 new alert sent', '1 series created', '1 https request']);
    expect(countOf(1, 'api calls')).toBe('1 api call');
    expect(countOf(1, 'days active')).toBe('1 day active');
    expect(countOf(2, 'reports generated')).toBe('2 reports generated');
    expect(countOf(0, 'reports generated')).toBe('0 reports generated');
  });
});

describe('trendText', () => {
  it('reads a move between windows as a person would', () => {
    expect([trendText(112, 100), trendText(60, 100), trendText(100, 100), trendText(5, 0), trendText(0, 7), trendText(0, 0), trendText(1, 3)]).toEqual(['+12%', '−40%', '±0%', 'new', 'stopped', '', '−67%']);
  });
});
