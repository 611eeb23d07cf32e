import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../db/api-tokens';
import { listAudit } from '../../db/audit';
import { deferInboxEvent, failingInboxPage, inboxBacklog, insertInboxEvent } from '../../db/inbox';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createMetrics, registerInboxGauges } from '../../platform/metrics';
import { InboxRelay } from '../../workers/relay';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { stripeEvent, stripeFixture } from '../helpers/stripe';
import { connectDevServer, eventually, type DevServer } from '../helpers/temporal';

type Json = Record<string, unknown>;

/**
 * An event the relay can never deliver holds back its customer. Its owner sees it,
 * with the error, through the API and a gauge, and may give up on it: then the
 * customer's later events go through, and the audit log says who and why.
 */
describe('failing webhook events: seen, retried and given up on by an owner', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_failing';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let temporal: DevServer;
  let api: TestApi;
  let owner: string;
  let ownerTokenId: string;
  let member: string;

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: ws, webhookSecret: 'whsec_failing' });
    await insertWorkspace(database.db, keyring, { id: 'ws_failing_other', name: 'other', webhookSecret: 'whsec_other' });
    const created = await createApiToken(database.db, { workspaceId: ws, role: 'owner', name: 'owner', createdBy: 'test' });
    owner = created.token;
    ownerTokenId = created.apiToken.id;
    member = (await createApiToken(database.db, { workspaceId: ws, role: 'member', name: 'member', createdBy: 'test' })).token;
    temporal = await connectDevServer();
    api = await startApi(database.db, keyring);
  });
  afterAll(async () => {
    await api?.close();
    await temporal?.close();
    await database?.drop();
  });

  let n = 0;
  /** Stores a subscription update for `customer` (no play acts on it), as the ingress would; `object` overrides the subscription's fields. */
  async function store(customer: string, object: Json = {}, workspaceId = ws): Promise<string> {
    const sub = { ...stripeFixture('subscription'), id: `sub_${customer}`, customer, ...object };
    const event = stripeEvent('customer.subscription.updated', sub, { id: `evt_failing_${++n}`, created: 1_700_000_000 + n });
    await insertInboxEvent(database.db, {
      workspaceId,
      eventId: event.id as string,
      type: 'customer.subscription.updated',
      customerId: customer,
      objectId: sub.id,
      stripeCreated: new Date((event.created as number) * 1000),
      livemode: false,
      payload: event,
    });
    return event.id as string;
  }

  const statusOf = async (eventId: string) => (await database.db('webhook_inbox').where({ event_id: eventId }).first<{ status: string; last_error: string | null }>('status', 'last_error'));

  /** Runs a relay until `until` holds. */
  async function relayUntil(until: () => Promise<boolean>): Promise<void> {
    const relay = new InboxRelay({ db: database.db, databaseUrl: database.url, client: temporal.client, taskQueue: 'unused', log: pino({ level: 'silent' }), pollMs: 50, retryBaseMs: 60_000 });
    relay.start();
    try {
      await eventually(until, (done) => done);
    } finally {
      await relay.stop();
    }
  }

  it('lists the failing event with its error, holds back its customer, and lets an owner give up on it so the rest goes on', async () => {
    // The mirror cannot take this subscription (its items are no list), so its delivery fails every time.
    const bad = await store('cus_stuck', { id: 'sub_cus_stuck_other', items: { object: 'list', has_more: false, data: 42 } });
    const after = await store('cus_stuck');
    // Another customer's event: delivered by now, or not yet tried; failing either way it is not.
    const notFailing = await store('cus_later');
    const elsewhere = await store('cus_stuck', { id: 'sub_elsewhere', items: { object: 'list', has_more: false, data: 42 } }, 'ws_failing_other');
    await relayUntil(async () => (await database.db('webhook_inbox').whereIn('event_id', [bad, elsewhere]).where('attempts', '>', 0)).length === 2);
    expect((await statusOf(after)).status).toBe('pending');

    // The gauge counts each workspace's failing events; the API lists the workspace's own.
    const metrics = createMetrics();
    registerInboxGauges(metrics, () => inboxBacklog(database.db));
    const failingSeries = async () => (await metrics.registry.metrics()).split('\n').filter((line) => line.startsWith('wysera_inbox_failing{'));
    expect(await failingSeries()).toEqual([`wysera_inbox_failing{workspace="${ws}"} 1`, 'wysera_inbox_failing{workspace="ws_failing_other"} 1']);
    const listed = await api.request('GET', `/workspaces/${ws}/webhook-events/failing`, { token: owner });
    expect(listed.status).toBe(200);
    const { events, nextAfterSeq } = listed.body as { events: Json[]; nextAfterSeq: number | null };
    expect(events.map((e) => [e.eventId, e.type, e.customerId, e.attempts])).toEqual([[bad, 'customer.subscription.updated', 'cus_stuck', 1]]);
    expect(events[0]!.lastError).toEqual((await statusOf(bad)).last_error);
    expect(events[0]!.lastError).toMatch(/\w/);
    expect(nextAfterSeq).toBeNull();
    expect((await api.request('GET', `/workspaces/${ws}/webhook-events/failing`, { token: member })).status).toBe(403);

    // Giving up needs a reason, and only a failing event of the workspace can be given up on.
    const ignore = (eventId: string, body: unknown) => api.request('POST', `/workspaces/${ws}/webhook-events/${eventId}/ignore`, { token: owner, body });
    const noReason = await ignore(bad, {});
    expect(noReason.status).toBe(400);
    expect(noReason.text).toContain('reason');
    const refused = await ignore(notFailing, { reason: 'test' });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('is not failing');
    const otherWorkspace = await ignore(elsewhere, { reason: 'test' });
    expect(otherWorkspace.status).toBe(404);
    expect(otherWorkspace.text).toContain(`no webhook event ${elsewhere} in workspace ${ws}`);
    expect((await statusOf(bad)).status).toBe('pending');

    const given = await ignore(bad, { reason: 'the subscription cannot be read from this event' });
    expect(given.status).toBe(200);
    expect((given.body as { event: Json }).event).toMatchObject({ eventId: bad, status: 'ignored', attempts: 1, rereadEventId: `reread_${bad}` });
    const row = await statusOf(bad);
    expect(row.status).toBe('ignored');
    // Its error stays with it.
    expect(row.last_error).toEqual(events[0]!.lastError);
    // Its object is queued to be read again from Stripe, behind the customer's waiting events.
    const seqOf = async (eventId: string) => Number((await database.db('webhook_inbox').where({ event_id: eventId }).first<{ seq: string }>('seq')).seq);
    const reread = await database.db('webhook_inbox').where({ event_id: `reread_${bad}` }).first<Json>();
    expect(reread).toMatchObject({
      workspace_id: ws,
      type: 'wysera.reread',
      customer_id: 'cus_stuck',
      object_id: 'sub_cus_stuck_other',
      status: 'pending',
      livemode: false,
      payload: { object: 'subscription', id: 'sub_cus_stuck_other', givenUpEventId: bad },
    });
    expect(await seqOf(`reread_${bad}`)).toBeGreaterThan(await seqOf(after));
    const [entry] = await listAudit(database.db, ws, { action: 'webhook_event.ignored' });
    expect(entry).toMatchObject({ actor: `token:${ownerTokenId}`, targetId: bad, after: { status: 'ignored', reason: 'the subscription cannot be read from this event', rereadEventId: `reread_${bad}` } });
    expect((await ignore(bad, { reason: 'again' })).status).toBe(409);
    expect((await api.request('GET', `/workspaces/${ws}/webhook-events/failing`, { token: owner })).body).toEqual({ events: [], nextAfterSeq: null, total: 0 });

    // The customer's later event now goes through, then the re-read (this relay has no
    // Stripe to ask, so it reads nothing: tests/integration/relay-refetch.test.ts reads).
    await relayUntil(async () => (await statusOf(`reread_${bad}`)).status === 'processed');
    expect((await statusOf(after)).status).toBe('processed');
    expect((await statusOf(notFailing)).status).toBe('processed');
    // The workspace with none left drops out; the other's stays. (The gauges share one
    // read of the inbox for 100 ms after it.)
    await new Promise((r) => setTimeout(r, 150));
    expect(await failingSeries()).toEqual(['wysera_inbox_failing{workspace="ws_failing_other"} 1']);
  });

  it('lets an owner retry a failing event at once instead of at its next try', async () => {
    const stuck = await store('cus_retry', { id: 'sub_retry', items: { object: 'list', has_more: false, data: 42 } });
    const delivered = await store('cus_retry_other');
    const attemptsOf = async () => (await database.db('webhook_inbox').where({ event_id: stuck }).first<{ attempts: number }>('attempts')).attempts;
    await relayUntil(async () => (await attemptsOf()) === 1 && (await statusOf(delivered)).status === 'processed');

    const retry = (eventId: string, body?: unknown) => api.request('POST', `/workspaces/${ws}/webhook-events/${eventId}/retry`, { token: owner, body });
    const relay = new InboxRelay({ db: database.db, databaseUrl: database.url, client: temporal.client, taskQueue: 'unused', log: pino({ level: 'silent' }), pollMs: 50, retryBaseMs: 60_000 });
    relay.start();
    try {
      // Its next try is a minute away; retried, the running relay tries it at once.
      const retried = await retry(stuck);
      expect(retried.status).toBe(200);
      expect((retried.body as { event: Json }).event).toMatchObject({ eventId: stuck, status: 'pending', attempts: 1 });
      await eventually(attemptsOf, (attempts) => attempts === 2);
    } finally {
      await relay.stop();
    }
    const [entry] = await listAudit(database.db, ws, { action: 'webhook_event.retried' });
    expect(entry).toMatchObject({ actor: `token:${ownerTokenId}`, targetId: stuck, before: { attempts: 1 } });

    const delivered409 = await retry(delivered);
    expect(delivered409.status).toBe(409);
    expect(delivered409.text).toContain('can be retried');
    expect((await retry('evt_not_here')).status).toBe(404);
    const withBody = await retry(stuck, { when: 'now' });
    expect(withBody.status).toBe(400);
    expect(withBody.text).toContain('when');
    const asText = await fetch(`${api.url}/workspaces/${ws}/webhook-events/${stuck}/retry`, { method: 'POST', headers: { authorization: `Bearer ${owner}`, 'content-type': 'text/plain' }, body: 'now' });
    expect(asText.status).toBe(415);
    // Neither refused request retried or audited anything.
    expect(await listAudit(database.db, ws, { action: 'webhook_event.retried' })).toHaveLength(1);
    expect((await api.request('POST', `/workspaces/${ws}/webhook-events/${stuck}/retry`, { token: member })).status).toBe(403);
    // Out of the way of the next test's listing.
    expect((await api.request('POST', `/workspaces/${ws}/webhook-events/${stuck}/ignore`, { token: owner, body: { reason: 'cannot be mirrored' } })).status).toBe(200);
  });

  it('pages through failing events and names a bad query', async () => {
    const stuck: string[] = [];
    for (let i = 0; i < 3; i++) stuck.push(await store(`cus_page_${i}`, { id: `sub_page_${i}`, items: { object: 'list', has_more: false, data: 42 } }));
    await relayUntil(async () => (await database.db('webhook_inbox').whereIn('event_id', stuck).where('attempts', '>', 0)).length === 3);
    // Another workspace's failing event is neither listed nor counted.
    await insertInboxEvent(database.db, { workspaceId: 'ws_failing_other', eventId: 'evt_other_failing', type: 'customer.subscription.updated', customerId: 'cus_other', objectId: 'sub_other', stripeCreated: new Date(), livemode: false, payload: {} });
    await deferInboxEvent(database.db, (await database.db('webhook_inbox').where({ event_id: 'evt_other_failing' }).first<{ seq: number }>('seq')).seq, 'elsewhere', 60_000);
    expect((await failingInboxPage(database.db, 'ws_failing_other', { limit: 1 })).total).toBeGreaterThan(0);
    const page = async (query: string) => (await api.request('GET', `/workspaces/${ws}/webhook-events/failing?${query}`, { token: owner })).body as { events: Json[]; nextAfterSeq: number | null; total: number };
    const first = await page('limit=2');
    expect(first.events.map((e) => e.eventId)).toEqual(stuck.slice(0, 2));
    expect(first.nextAfterSeq).toBe(first.events[1]!.seq);
    expect(first.total).toBe(3);
    const second = await page(`limit=2&afterSeq=${first.nextAfterSeq}`);
    expect(second.events.map((e) => e.eventId)).toEqual(stuck.slice(2));
    expect(second.nextAfterSeq).toBeNull();
    expect(second.total).toBe(3);
    // A full last page says it is the last.
    const whole = await page('limit=3');
    expect(whole.events.map((e) => e.eventId)).toEqual(stuck);
    expect(whole.nextAfterSeq).toBeNull();
    for (const [query, names] of [
      ['limit=0', 'limit'],
      ['limit=many', 'limit'],
      ['afterSeq=-1', 'afterSeq'],
      ['status=pending', 'status'],
    ]) {
      const res = await api.request('GET', `/workspaces/${ws}/webhook-events/failing?${query}`, { token: owner });
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
      expect(res.text).toContain(names);
    }
  });

  it('names what is wrong with a re-read it cannot read, and queues no re-read of a re-read given up on', async () => {
    await insertInboxEvent(database.db, {
      workspaceId: ws,
      eventId: 'reread_evt_unreadable',
      type: 'wysera.reread',
      customerId: 'cus_reread',
      objectId: 'sub_reread',
      stripeCreated: new Date(),
      livemode: false,
      payload: { object: 'subscription' },
    });
    await relayUntil(async () => (await database.db('webhook_inbox').where({ event_id: 'reread_evt_unreadable' }).first<{ attempts: number }>('attempts')).attempts > 0);
    expect((await statusOf('reread_evt_unreadable')).last_error).toMatch(/not a re-read's payload: id: /);
    const given = await api.request('POST', `/workspaces/${ws}/webhook-events/reread_evt_unreadable/ignore`, { token: owner, body: { reason: 'nothing to read' } });
    expect(given.status).toBe(200);
    expect((given.body as { event: Json }).event).toMatchObject({ eventId: 'reread_evt_unreadable', status: 'ignored', rereadEventId: null });
    expect(await database.db('webhook_inbox').where({ customer_id: 'cus_reread' }).pluck('event_id')).toEqual(['reread_evt_unreadable']);
  });

  it('queues no re-read for a given-up event that names no object', async () => {
    await insertInboxEvent(database.db, { workspaceId: ws, eventId: 'evt_no_object', type: 'invoice.payment_failed', customerId: 'cus_no_object', objectId: null, stripeCreated: new Date(), livemode: false, payload: {} });
    await deferInboxEvent(database.db, (await database.db('webhook_inbox').where({ event_id: 'evt_no_object' }).first<{ seq: number }>('seq')).seq, 'no invoice', 60_000);
    const given = await api.request('POST', `/workspaces/${ws}/webhook-events/evt_no_object/ignore`, { token: owner, body: { reason: 'nothing to read' } });
    expect(given.status).toBe(200);
    expect((given.body as { event: Json }).event).toMatchObject({ eventId: 'evt_no_object', status: 'ignored', rereadEventId: null });
    expect(await database.db('webhook_inbox').where({ customer_id: 'cus_no_object' }).pluck('event_id')).toEqual(['evt_no_object']);
  });
});
