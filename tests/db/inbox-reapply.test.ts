import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointActivity, inboxBacklog, insertInboxEvent, pendingInboxEvents, reapplySetAsideEvents } from '../../db/inbox';
import { freshDatabase } from '../helpers/db';

const ws = 'ws_reapply';
const DAY_MS = 86_400_000;

/*
 * An event set aside weeks ago and queued again by its owner waits since the re-queue:
 * the backlog's age and the relay's lag would otherwise say weeks, and set off alerts.
 */
describe('a set-aside event queued again', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase();
    const { db } = database;
    await db('workspaces').insert({ id: ws, name: 'Reapply' });
    await insertInboxEvent(db, { workspaceId: ws, eventId: 'evt_old_aside', type: 'invoice.payment_failed', customerId: 'cus_1', objectId: 'in_1', stripeCreated: new Date(), livemode: true, payload: { id: 'evt_old_aside', livemode: true } });
    const arrived = new Date(Date.now() - 20 * DAY_MS);
    await db('webhook_inbox')
      .where({ event_id: 'evt_old_aside' })
      .update({ received_at: arrived, status: 'ignored', processed_at: arrived, last_error: 'not applied: the event is a live-mode event, and this workspace mirrors test-mode data' });
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('waits since the re-queue for the backlog and the relay, and keeps when it arrived', async () => {
    const { db } = database;
    expect(await reapplySetAsideEvents(db, ws, { stripeAccountId: null, livemode: true, hasStripeKey: true })).toEqual({ requeued: 1, stillSetAside: 0 });
    expect((await inboxBacklog(db)).oldestPendingSeconds).toBeLessThan(60);
    expect((await endpointActivity(db, ws, new Date(Date.now() - DAY_MS))).oldestPendingSeconds).toBeLessThan(60);
    const [event] = await pendingInboxEvents(db, 10);
    expect(Date.now() - event!.waitingSince.getTime()).toBeLessThan(60_000);
    expect(Date.now() - event!.receivedAt.getTime()).toBeGreaterThan(19 * DAY_MS);
  });
});
