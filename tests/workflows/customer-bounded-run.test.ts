import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_HISTORY_EVENTS, RECENT_EVENTS_KEPT, type customerWorkflow } from '../../workflows/customer';
import { recentEventsQuery, stripeEventSignal, type StripeEventSignal } from '../../workflows/messages';
import { connectDevServer, runWorker, type DevServer, uniqueTaskQueue } from '../helpers/temporal';

/** A payment of an invoice in no dunning: routed to the plays, but nothing to do there. */
const payment = (n: number): StripeEventSignal => ({
  eventId: `evt_pay_${n}`,
  type: 'invoice.payment_succeeded',
  stripeCreated: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  objectId: `in_${n}`,
  inboxSeq: n,
});

/**
 * The customer workflow on the dev server keeps its runs short: once a run's history
 * reaches RUN_HISTORY_EVENTS it continues as new with its state, so a worker that no
 * longer holds it in its cache replays little.
 */
describe('customerWorkflow runs stay short', () => {
  let server: DevServer;
  let worker: Awaited<ReturnType<typeof runWorker>>;
  const taskQueue = uniqueTaskQueue('customer-run');

  beforeAll(async () => {
    server = await connectDevServer();
    worker = await runWorker(server, taskQueue);
  });

  afterAll(async () => {
    await worker?.stop();
    await server?.close();
  });

  it(`continues as new at ${RUN_HISTORY_EVENTS} events of history, carrying its recent events and the ids it has seen`, async () => {
    const workflowId = `customer:ws_run:${randomUUID()}`;
    const handle = await server.client.workflow.start<typeof customerWorkflow>('customerWorkflow', { taskQueue, workflowId, args: [{ workspaceId: 'ws_run', customerId: 'cus_run' }] });
    const firstRun = handle.firstExecutionRunId;
    let sent = 0;
    // One signal at a time, each its own workflow task: about four history events each.
    while ((await handle.describe()).runId === firstRun) {
      expect(sent).toBeLessThan(RUN_HISTORY_EVENTS);
      for (let i = 0; i < 25; i++) await handle.signal(stripeEventSignal, payment(++sent));
      await new Promise((r) => setTimeout(r, 50));
    }
    const first = server.client.workflow.getHandle(workflowId, firstRun);
    expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
    const firstHistory = (await first.fetchHistory()).events ?? [];
    // It ended at the bound, not at the server's suggestion thousands of events later.
    expect(firstHistory.length).toBeGreaterThanOrEqual(RUN_HISTORY_EVENTS);
    expect(firstHistory.length).toBeLessThan(RUN_HISTORY_EVENTS + 200);

    // The new run answers with the last events and drops one the first run had seen.
    const current = server.client.workflow.getHandle(workflowId);
    await current.signal(stripeEventSignal, payment(sent));
    const recent = await current.query(recentEventsQuery);
    expect(recent).toHaveLength(Math.min(RECENT_EVENTS_KEPT, sent));
    expect(recent.at(-1)?.eventId).toBe(`evt_pay_${sent}`);
    expect(new Set(recent.map((e) => e.eventId)).size).toBe(recent.length);
    await current.terminate('test done');
  });
});
