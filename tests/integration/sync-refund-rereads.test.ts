import { pino } from 'pino';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { endpointOf, StripeClients } from '../../activities/stripe-client';
import { createSyncActivities } from '../../activities/sync';
import { upsertCharges, upsertRefunds } from '../../db/mirror';
import { createSyncRun, newSyncRunId } from '../../db/sync';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createMetrics } from '../../platform/metrics';
import { startSimulator, type Simulator } from '../../sim/server';
import { createMirrorRefetch } from '../../workers/mirror-refetch';
import { InboxRelay } from '../../workers/relay';
import { freshDatabase } from '../helpers/db';
import { connectDevServer, eventually, type DevServer } from '../helpers/temporal';

/**
 * Refunds listed on their own by a sync, against the refunds the mirror holds (from
 * their charges' events or earlier reads): where the two may be on either side of each
 * other and differ, the sync has the charge read again, and the relay writes Stripe's
 * refunds over both.
 */
describe("a sync's page of refunds", () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_syncRefunds';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let temporal: DevServer;
  let sim: Simulator;

  beforeAll(async () => {
    database = await freshDatabase();
    sim = await startSimulator({ seed: 'mirror-refetch', customers: 40, months: 6, port: 0 });
    await insertWorkspace(database.db, keyring, { id: ws, name: ws, webhookSecret: 'whsec_sr', stripeKey: sim.accounts[0]!.restrictedKey });
    temporal = await connectDevServer();
  }, 60_000);
  afterAll(async () => {
    await temporal?.close();
    await sim?.stop();
    await database?.drop();
  });

  const pending = (r: Stripe.Refund): Stripe.Refund => ({ ...r, status: 'pending' });
  const readIn = (second: number) => ({ from: new Date(second * 1000), until: new Date((second + 1) * 1000) });
  const refundStatusIn = (workspaceId: string) => async (r: Stripe.Refund) =>
    (await database.db('stripe_refunds').where({ workspace_id: workspaceId, id: r.id }).first<{ status: string }>('status')).status;
  const rereadsOf = (workspaceId: string) =>
    database.db('webhook_inbox').where({ workspace_id: workspaceId, type: 'wysera.reread' }).select<{ event_id: string }[]>('event_id', 'customer_id', 'object_id', 'payload');

  /** Runs a sync's refunds step for the workspace, as a run of its own. */
  async function syncRefunds(workspaceId: string) {
    const runId = newSyncRunId();
    await createSyncRun(database.db, { id: runId, workspaceId, workflowId: `sync-${runId}`, mode: 'full', windowStart: null, requestedBy: 'test' });
    const metrics = createMetrics();
    const sync = createSyncActivities({ db: database.db, keyring, stripe: new StripeClients({ endpoint: endpointOf(sim.url) }), log: pino({ level: 'silent' }), metrics });
    await new MockActivityEnvironment().run(sync.syncResource, { workspaceId, runId, resource: 'refunds' as const, createdGte: null, spanStart: null });
    return { runId, metrics };
  }

  /** Runs a relay that asks Stripe when in doubt until the event is no longer pending; its status then. */
  async function relayed(workspaceId: string, eventId: string): Promise<string> {
    const relay = new InboxRelay({
      db: database.db,
      databaseUrl: database.url,
      client: temporal.client,
      taskQueue: 'sync-refund-rereads',
      log: pino({ level: 'silent' }),
      pollMs: 50,
      refetch: createMirrorRefetch({ db: database.db, keyring, stripe: new StripeClients({ endpoint: endpointOf(sim.url) }) }),
    });
    relay.start();
    try {
      const status = () => database.db('webhook_inbox').where({ workspace_id: workspaceId, event_id: eventId }).first<{ status: string }>('status');
      return (await eventually(status, (r) => r.status !== 'pending')).status;
    } finally {
      await relay.stop();
    }
  }

  it("has the charge read again when a stored refund may be on either side of the page, and Stripe's refunds end in the mirror", async () => {
    const account = sim.account();
    const chargeOf = (r: Stripe.Refund) => r.charge as string;
    const [inside, older] = account.refunds.rows.filter((r) => r.status === 'succeeded');
    expect(older).toBeDefined();
    const charges = [inside!, older!].map((r) => account.charges.get(chargeOf(r))!);
    const customerOf = (c: Stripe.Charge) => c.customer as string;
    // The simulator's clock stands still: the page's read is from just before `now` to
    // the end of that second. The mirror holds each refund as pending, as an earlier
    // read stored it: one of that very second (either side of the page), one of ten
    // seconds before (older for sure). Their charges it holds from before that, so a
    // read of the charge is dated by its refund's stored state, not by the charge's.
    const now = account.now;
    await upsertCharges(database.db, ws, charges, new Date((now - 20) * 1000));
    await upsertRefunds(database.db, ws, [pending(inside!)], readIn(now), false);
    await upsertRefunds(database.db, ws, [pending(older!)], readIn(now - 10), false);
    const statusOf = refundStatusIn(ws);

    const { runId, metrics } = await syncRefunds(ws);
    // The page was refused by the read dated later in its own second, written over the older one.
    expect([await statusOf(inside!), await statusOf(older!)]).toEqual(['pending', 'succeeded']);

    // One re-read, of the charge whose refund is in doubt, filed under its customer.
    const rereads = await rereadsOf(ws);
    expect(rereads).toEqual([
      { event_id: `reread_${runId}_${inside!.id}`, customer_id: customerOf(charges[0]!), object_id: charges[0]!.id, payload: { object: 'charge', id: charges[0]!.id, syncRunId: runId } },
    ]);

    expect((await metrics.syncRereads.get()).values).toEqual([{ labels: { resource: 'refunds' }, value: 1 }]);

    expect(await relayed(ws, rereads[0]!.event_id)).toBe('processed');
    // Written although the read of the charge came in the same second as the stored refund.
    expect(await statusOf(inside!)).toBe('succeeded');
  });

  it('reads a charge once for all its refunds in doubt on the page', async () => {
    const other = 'ws_syncRefundsTwice';
    await insertWorkspace(database.db, keyring, { id: other, name: other, webhookSecret: 'whsec_sr2', stripeKey: sim.accounts[0]!.restrictedKey });
    const account = sim.account();
    const charge = account.charges.rows.find((c) => c.status === 'succeeded' && c.amount_refunded === 0 && c.amount >= 2 && typeof c.customer === 'string')!;
    expect(charge).toBeDefined();
    // The mirror holds the charge as before its refunds, and both refunds as pending
    // from a read in the page's own second: each may be on either side of the page.
    await upsertCharges(database.db, other, [structuredClone(charge)], new Date((account.now - 20) * 1000));
    const refunds = [account.refundCharge(charge.id, { amount: 1 }), account.refundCharge(charge.id, { amount: 1 })];
    await upsertRefunds(database.db, other, refunds.map(pending), readIn(account.now), false);

    const { runId, metrics } = await syncRefunds(other);
    const rereads = await rereadsOf(other);
    expect(rereads).toHaveLength(1);
    expect(refunds.map((r) => `reread_${runId}_${r.id}`)).toContain(rereads[0]!.event_id);
    expect(rereads[0]).toMatchObject({ customer_id: charge.customer, object_id: charge.id, payload: { object: 'charge', id: charge.id, syncRunId: runId } });
    expect((await metrics.syncRereads.get()).values).toEqual([{ labels: { resource: 'refunds' }, value: 1 }]);

    expect(await relayed(other, rereads[0]!.event_id)).toBe('processed');
    const statusOf = refundStatusIn(other);
    expect([await statusOf(refunds[0]!), await statusOf(refunds[1]!)]).toEqual(['succeeded', 'succeeded']);
  });
});
