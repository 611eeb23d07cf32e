import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertInboxEvent, inboxCounts } from '../../db/inbox';
import { WALK_BACKOFF } from '../../domain/relay-pass';
import { createMetrics } from '../../platform/metrics';
import { InboxRelay } from '../../workers/relay';
import { freshDatabase } from '../helpers/db';
import { connectDevServer, type DevServer } from '../helpers/temporal';

/*
 * While every customer at the head of the inbox waits for a retry (Temporal down, say),
 * a read finds nothing it can take, however far it walks, and each arrival wakes the
 * relay to walk it all again. The relay then reads at most 1 / (1 + WALK_BACKOFF) of
 * the time instead of all of it.
 */

const ws = 'ws_walk';
const CUSTOMERS = 3_000;
const HELD_BACKLOG = 30_000;

describe('relay: a head of events held back by retries', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let temporal: DevServer;

  beforeAll(async () => {
    database = await freshDatabase();
    await database.db('workspaces').insert({ id: ws, name: 'Walk' });
    // Ten events for each customer, whose first waits an hour for its retry.
    await database.db.raw(
      `insert into webhook_inbox (workspace_id, event_id, type, customer_id, object_id, stripe_created, livemode, payload, attempts, next_attempt_at)
       select ?, 'evt_held_' || n, 'customer.subscription.updated', 'cus_' || (n % ?), 'sub_1', now(), false, '{}'::json,
              case when n < ? then 1 else 0 end, case when n < ? then now() + interval '1 hour' else now() end
         from generate_series(0, ? - 1) as n`,
      [ws, CUSTOMERS, CUSTOMERS, CUSTOMERS, HELD_BACKLOG],
    );
    await database.db.raw('analyze webhook_inbox');
    temporal = await connectDevServer();
  });
  afterAll(async () => {
    await temporal?.close();
    await database?.drop();
  });

  it('walks it at most a fifth of the time while events keep arriving behind it', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const relay = new InboxRelay({ db: database.db, databaseUrl: database.url, client: temporal.client, taskQueue: 'unused', log: pino({ level: 'silent' }), pollMs: 1_000, metrics });
    relay.start();
    const startedAt = Date.now();
    // Three seconds of arrivals for held-back customers, each one notifying the relay.
    for (let i = 0; Date.now() - startedAt < 3_000; i++) {
      await insertInboxEvent(database.db, {
        workspaceId: ws,
        eventId: `evt_arrival_${i}`,
        type: 'customer.subscription.updated',
        customerId: `cus_${i % CUSTOMERS}`,
        objectId: 'sub_1',
        stripeCreated: new Date(),
        livemode: false,
        payload: {},
      });
      await new Promise((r) => setTimeout(r, 5));
    }
    await relay.stop();
    // After the stop: a read still under way then counts in full.
    const elapsedMs = Date.now() - startedAt;

    const reads = (await metrics.relayStepSeconds.get()).values.filter((v) => v.labels.step === 'empty_read');
    const count = reads.find((v) => v.metricName === 'wysera_relay_step_seconds_count')?.value ?? 0;
    const seconds = reads.find((v) => v.metricName === 'wysera_relay_step_seconds_sum')?.value ?? 0;
    // It did walk the whole head more than once (each read looks at every pending event) ...
    expect(count).toBeGreaterThanOrEqual(2);
    const walked = (await metrics.relayWalkedEvents.get()).values[0]?.value ?? 0;
    expect(walked).toBeGreaterThanOrEqual(2 * HELD_BACKLOG);
    // ... but not back to back, as each arrival would have it.
    expect((seconds * 1000) / elapsedMs).toBeLessThan(1.5 / (1 + WALK_BACKOFF));
    // Nothing could go: every event is still pending.
    const counts = await inboxCounts(database.db, ws);
    expect(counts.processed + counts.ignored).toBe(0);
  });
});
