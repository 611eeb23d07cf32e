import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { customerWorkflow } from '../../workflows/customer';
import { RECENT_EVENTS_KEPT } from '../../workflows/customer';
import { recentEventsQuery, stripeEventSignal, stripeEventsSignal, type StripeEventSignal } from '../../workflows/messages';
import { createWorker } from '../../workers/worker';
import { timeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';

const event = (n: number): StripeEventSignal => ({
  eventId: `evt_${n}`,
  type: 'customer.subscription.updated',
  stripeCreated: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString(),
  objectId: 'sub_1',
  inboxSeq: n,
});

describe('customerWorkflow (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = uniqueTaskQueue('customer');

  beforeAll(async () => {
    env = await timeSkippingEnv();
    worker = await createWorker({ connection: env.nativeConnection, client: env.client, namespace: env.namespace ?? 'default', taskQueue, overrides: { workflowBundle: await workflowBundle() } });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  const start = (input: Parameters<typeof customerWorkflow>[0]) =>
    env.client.workflow.start<typeof customerWorkflow>('customerWorkflow', { taskQueue, workflowId: `customer:ws_t:${randomUUID()}`, args: [input] });

  it('records each event once, however often it is signalled', async () => {
    const handle = await start({ workspaceId: 'ws_t', customerId: 'cus_1' });
    for (const e of [event(1), event(2), event(1), event(3), event(2)]) await handle.signal(stripeEventSignal, e);
    const events = await handle.query(recentEventsQuery);
    expect(events.map((e) => e.eventId)).toEqual(['evt_1', 'evt_2', 'evt_3']);
    await handle.terminate();
  });

  it('takes events in batches, in order, dropping ids seen in this or an earlier batch', async () => {
    const handle = await start({ workspaceId: 'ws_t', customerId: 'cus_batch' });
    await handle.signal(stripeEventSignal, event(1));
    await handle.signal(stripeEventsSignal, [event(2), event(1), event(3), event(2)]);
    await handle.signal(stripeEventsSignal, [event(3), event(4)]);
    expect((await handle.query(recentEventsQuery)).map((e) => e.eventId)).toEqual(['evt_1', 'evt_2', 'evt_3', 'evt_4']);
    await handle.terminate();
  });

  it('keeps only the most recent events', async () => {
    const handle = await start({ workspaceId: 'ws_t', customerId: 'cus_2' });
    for (let n = 1; n <= RECENT_EVENTS_KEPT + 5; n++) await handle.signal(stripeEventSignal, event(n));
    const events = await handle.query(recentEventsQuery);
    expect(events).toHaveLength(RECENT_EVENTS_KEPT);
    expect(events[0]?.eventId).toBe('evt_6');
    expect(events.at(-1)?.eventId).toBe(`evt_${RECENT_EVENTS_KEPT + 5}`);
    await handle.terminate();
  });

  it('resumes from state carried across continue-as-new, still dropping seen ids', async () => {
    const handle = await start({ workspaceId: 'ws_t', customerId: 'cus_3', recentEvents: [event(7)], seenEventIds: ['evt_7'] });
    await handle.signal(stripeEventSignal, event(7));
    await handle.signal(stripeEventSignal, event(8));
    expect((await handle.query(recentEventsQuery)).map((e) => e.eventId)).toEqual(['evt_7', 'evt_8']);
    await handle.terminate();
  });

  it('stays open for weeks without events', async () => {
    const handle = await start({ workspaceId: 'ws_t', customerId: 'cus_4' });
    await env.sleep('30 days');
    const description = await handle.describe();
    expect(description.status.name).toBe('RUNNING');
    await handle.terminate();
  });
});
