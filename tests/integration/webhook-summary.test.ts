import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../db/api-tokens';
import { completeInboxEvents, deferInboxEvent, insertInboxEvent, setAsideInboxEvents } from '../../db/inbox';
import { insertWorkspace } from '../../db/workspaces';
import { SUBSCRIBED_EVENT_TYPES } from '../../domain/event-types';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { stripeEvent, stripeFixture } from '../helpers/stripe';

interface Summary {
  endpointPath: string;
  eventTypes: string[];
  mirrors: { stripeAccountId: string | null; livemode: boolean } | null;
  lastReceivedAt: string | null;
  received: { type: string; count: number; setAside: number }[];
  lastSetAsideReason: string | null;
  apiVersions: { apiVersion: string | null; events: number }[];
  pending: number;
  oldestPendingSeconds: number;
  failing: number;
  runningSubscriptions: number;
  warnings: { code: string; message: string }[];
  signingSecret: { replacedAt: string | null; replacedBy: string | null; replacedByName: string | null };
}

/**
 * The endpoint at a glance for an owner: what arrived in the last day by type, what
 * was set aside and why, the API versions Stripe sends in, the backlog, and the
 * warnings worked out from them (their rules: tests/unit/webhook-health.test.ts).
 */
describe('the webhook endpoint summary', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_summary';
  const quiet = 'ws_summary_quiet';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  let owner: string;
  let quietOwner: string;
  let member: string;

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: ws, webhookSecret: 'whsec_summary', stripeKey: 'sk_test_summary', stripeAccountId: 'acct_A' });
    await insertWorkspace(database.db, keyring, { id: quiet, name: quiet, webhookSecret: 'whsec_quiet' });
    owner = (await createApiToken(database.db, { workspaceId: ws, role: 'owner', name: 'owner', createdBy: 'test' })).token;
    quietOwner = (await createApiToken(database.db, { workspaceId: quiet, role: 'owner', name: 'owner', createdBy: 'test' })).token;
    member = (await createApiToken(database.db, { workspaceId: ws, role: 'member', name: 'member', createdBy: 'test' })).token;
    api = await startApi(database.db, keyring);
  });
  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  let n = 0;
  /** Stores an event as the ingress would; returns its seq. */
  async function store(type: string, apiVersion: string | null, workspaceId = ws, receivedDaysAgo = 0): Promise<number> {
    const object = { ...stripeFixture('subscription'), id: `sub_summary_${++n}`, customer: `cus_summary_${n}` };
    const event = stripeEvent(type, object, { id: `evt_summary_${n}`, api_version: apiVersion, account: 'acct_A' });
    await insertInboxEvent(database.db, { workspaceId, eventId: event.id as string, type, customerId: object.customer, objectId: object.id, stripeCreated: new Date(), livemode: false, payload: event });
    const row = await database.db('webhook_inbox').where({ workspace_id: workspaceId, event_id: event.id as string }).first<{ seq: number }>('seq');
    if (receivedDaysAgo > 0) await database.db('webhook_inbox').where({ seq: row.seq }).update({ received_at: database.db.raw(`now() - (? * interval '1 day')`, [receivedDaysAgo]) });
    return Number(row.seq);
  }

  const summaryOf = async (workspaceId: string, token: string) => {
    const res = await api.request('GET', `/workspaces/${workspaceId}/webhook-events/summary`, { token });
    expect(res.status).toBe(200);
    return res.body as Summary;
  };

  it("says what arrived in the last day, what was set aside and why, the API versions, the backlog and what to fix", async () => {
    // Two days ago: not in the window, but its API version is among the latest events'.
    await store('charge.refunded', '2025-03-31.basil', ws, 2);
    const processed = [await store('customer.subscription.updated', '2025-03-31.basil'), await store('customer.subscription.updated', '2025-03-31.basil'), await store('invoice.payment_succeeded', '2019-10-08')];
    const unused = [await store('customer.created', '2025-03-31.basil'), await store('customer.created', '2025-03-31.basil')];
    const foreign = await store('customer.subscription.updated', '2025-03-31.basil');
    const failing = await store('invoice.payment_failed', '2025-03-31.basil');
    await store('customer.subscription.deleted', '2025-03-31.basil');
    await completeInboxEvents(database.db, [...processed.map((seq) => ({ seq, status: 'processed' as const })), ...unused.map((seq) => ({ seq, status: 'ignored' as const }))]);
    const reason = 'not applied: the event is about the connected account acct_B, and this workspace mirrors acct_A';
    await setAsideInboxEvents(database.db, [{ seq: foreign, reason }]);
    await deferInboxEvent(database.db, failing, 'mirror: no such invoice', 60_000);

    const summary = await summaryOf(ws, owner);
    expect(summary.endpointPath).toBe(`/webhooks/stripe/${ws}`);
    expect(summary.eventTypes).toEqual([...SUBSCRIBED_EVENT_TYPES]);
    expect(summary.mirrors).toEqual({ stripeAccountId: 'acct_A', livemode: false });
    expect(summary.received).toEqual([
      { type: 'customer.subscription.updated', count: 3, setAside: 1 },
      { type: 'customer.created', count: 2, setAside: 0 },
      { type: 'customer.subscription.deleted', count: 1, setAside: 0 },
      { type: 'invoice.payment_failed', count: 1, setAside: 0 },
      { type: 'invoice.payment_succeeded', count: 1, setAside: 0 },
    ]);
    expect(summary.lastSetAsideReason).toBe(reason);
    expect(summary.apiVersions).toEqual([
      { apiVersion: '2025-03-31.basil', events: 8 },
      { apiVersion: '2019-10-08', events: 1 },
    ]);
    // Pending whatever their age: the oldest is the refund of two days ago.
    expect(summary.pending).toBe(3);
    expect(summary.failing).toBe(1);
    expect(summary.oldestPendingSeconds).toBeGreaterThan(2 * 86_400 - 600);
    expect(summary.oldestPendingSeconds).toBeLessThan(2 * 86_400 + 600);
    expect(Date.now() - Date.parse(summary.lastReceivedAt!)).toBeLessThan(600_000);
    expect(summary.warnings.map((w) => w.code)).toEqual(['foreign_events', 'unused_types']);
    expect(summary.warnings[0]!.message).toContain(reason);
    expect(summary.warnings[1]!.message).toContain('2 events of 1 type Wysera does not use arrived (customer.created)');

    expect((await api.request('GET', `/workspaces/${ws}/webhook-events/summary`, { token: member })).status).toBe(403);
  });

  it('warns of an endpoint that sends nothing while subscriptions run, and checks nothing without a key', async () => {
    await database.db('stripe_subscriptions').insert({
      workspace_id: quiet, id: 'sub_quiet', customer_id: 'cus_quiet', status: 'active', currency: 'usd', livemode: false, metadata: '{}', stripe_state_at: new Date(),
    });
    const silent = await summaryOf(quiet, quietOwner);
    expect(silent.mirrors).toBeNull();
    expect(silent.lastReceivedAt).toBeNull();
    expect(silent.received).toEqual([]);
    expect(silent.apiVersions).toEqual([]);
    expect(silent.runningSubscriptions).toBe(1);
    expect(silent.warnings.map((w) => w.code)).toEqual(['quiet']);
    expect(silent.warnings[0]!.message).toMatch(/^No webhook event is on record, while 1 subscription runs/);

    // One event, 40 days ago: still quiet, since then.
    await store('customer.subscription.updated', '2025-03-31.basil', quiet, 40);
    const stale = await summaryOf(quiet, quietOwner);
    expect(stale.received).toEqual([]);
    expect(stale.warnings[0]!.message).toContain(`No webhook event has arrived since ${stale.lastReceivedAt}`);
  });

  it('says when the signing secret was last replaced and by whom, never the secret', async () => {
    expect((await summaryOf(quiet, quietOwner)).signingSecret).toEqual({ replacedAt: null, replacedBy: null, replacedByName: null });
    for (const secret of ['whsec_quietRolled1', 'whsec_quietRolled2']) {
      const put = await api.request('PUT', `/workspaces/${quiet}/webhook-secret`, { token: quietOwner, body: { webhookSecret: secret } });
      expect(put.status).toBe(200);
    }
    const [latest] = await database.db('audit_log').where({ workspace_id: quiet, action: 'workspace.webhook_secret_replaced' }).orderBy('id', 'desc').select<{ at: Date; actor: string }[]>('at', 'actor');
    const summary = await summaryOf(quiet, quietOwner);
    expect(summary.signingSecret).toEqual({ replacedAt: latest!.at.toISOString(), replacedBy: latest!.actor, replacedByName: 'API token "owner"' });
    expect(summary.signingSecret.replacedBy).toMatch(/^token:/);
    expect(JSON.stringify(summary)).not.toContain('whsec_');
    // Another workspace's replacement is not this one's.
    expect((await summaryOf(ws, owner)).signingSecret).toEqual({ replacedAt: null, replacedBy: null, replacedByName: null });
  });
});
