import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Worker } from '@temporalio/worker';
import { createWorker } from '../../workers/worker';
import type { customerWorkflow } from '../../workflows/customer';
import type { dunningWorkflow } from '../../workflows/dunning';
import { dunningWorkflowId } from '../../workflows/ids';
import { stripeEventSignal } from '../../workflows/messages';
import { dunningStateQuery } from '../../workflows/play-messages';
import { PLAY } from '../../workflows/search-attributes';
import { temporal } from '@temporalio/proto';
import { connectDevServer, uniqueTaskQueue, workflowBundle, type DevServer } from '../helpers/temporal';
import { fakeActivities, fakeWorld, type FakeWorld } from './dunning-activities';

/**
 * The customer workflow as the hub that starts and stops dunning. On the dev server,
 * whose namespace has Wysera's search attributes registered (the dunning workflows
 * are started with them; the time-skipping server cannot register any).
 */
describe('customerWorkflow routes payment events to dunning', () => {
  let server: DevServer;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = uniqueTaskQueue('customer-dunning');
  const worlds = new Map<string, FakeWorld>();

  beforeAll(async () => {
    server = await connectDevServer();
    const names = Object.keys(fakeActivities(fakeWorld('off'))) as (keyof ReturnType<typeof fakeActivities>)[];
    const activities = Object.fromEntries(
      names.map((name) => [
        name,
        (input: { workflowId?: string; draftId?: string }) => {
          const id = input.workflowId ?? [...worlds.keys()].find((k) => input.draftId?.startsWith(`draft-${k}-`));
          const world = id ? worlds.get(id) : undefined;
          if (!world) throw new Error(`no world for ${JSON.stringify(input)}`);
          return (fakeActivities(world)[name] as (i: unknown) => Promise<unknown>)(input);
        },
      ]),
    );
    worker = await createWorker({ connection: server.nativeConnection, client: server.client, namespace: 'default', taskQueue, overrides: { workflowBundle: await workflowBundle(), activities } });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await server?.close();
  });

  let n = 0;
  // Stripe's time is now, so day 0 of the sequence is due at once and day 3 is days away.
  const event = (type: string, objectId: string, eventId = `evt_${++n}`) => ({ eventId, type, stripeCreated: new Date().toISOString(), objectId, inboxSeq: n });
  const eventually = async <T>(fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> => {
    let last: T | undefined;
    for (let i = 0; i < 200; i++) {
      last = await fn().catch(() => undefined);
      if (last !== undefined && ok(last)) return last;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`condition not met; last ${JSON.stringify(last)}`);
  };

  it('starts one dunning per failed invoice and stops it on payment', async () => {
    const ws = `ws_${randomUUID().slice(0, 8)}`;
    const invoice = 'in_hub1';
    const world = fakeWorld('auto');
    worlds.set(dunningWorkflowId(ws, invoice), world);
    const customer = await server.client.workflow.start<typeof customerWorkflow>('customerWorkflow', { taskQueue, workflowId: `customer:${ws}:cus_1`, args: [{ workspaceId: ws, customerId: 'cus_1' }] });
    const failed = event('invoice.payment_failed', invoice);
    await customer.signal(stripeEventSignal, failed);
    await customer.signal(stripeEventSignal, failed); // re-delivery
    await customer.signal(stripeEventSignal, event('invoice.payment_failed', invoice)); // a Stripe retry failed too
    const dunning = server.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(ws, invoice));
    await eventually(() => dunning.query(dunningStateQuery), (s) => s.sentSteps.length === 1);
    await customer.signal(stripeEventSignal, event('invoice.payment_succeeded', invoice));
    expect(await dunning.result()).toEqual({ outcome: 'recovered', sentSteps: [0] });
    // One workflow for the invoice: the repeated failure did not start another.
    expect(world.closed).toHaveLength(1);
    expect((await customer.describe()).status.name).toBe('RUNNING');
    await customer.terminate('test done');
  });

  it('starts and tells its dunnings through local activities: no child or external-signal events in its history', async () => {
    const ws = `ws_${randomUUID().slice(0, 8)}`;
    const closed = fakeWorld('auto');
    closed.invoiceStatus = 'void';
    worlds.set(dunningWorkflowId(ws, 'in_void'), closed);
    const live = fakeWorld('auto');
    worlds.set(dunningWorkflowId(ws, 'in_live'), live);
    const customer = await server.client.workflow.start<typeof customerWorkflow>('customerWorkflow', { taskQueue, workflowId: `customer:${ws}:cus_4`, args: [{ workspaceId: ws, customerId: 'cus_4' }] });
    await customer.signal(stripeEventSignal, event('invoice.payment_failed', 'in_void'));
    const ended = server.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(ws, 'in_void'));
    await eventually(() => ended.describe(), (d) => d.status.name === 'COMPLETED');
    expect(await ended.result()).toEqual({ outcome: 'invoice_closed', sentSteps: [] });
    await customer.signal(stripeEventSignal, event('invoice.payment_failed', 'in_live'));
    const dunning = server.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(ws, 'in_live'));
    await eventually(() => dunning.query(dunningStateQuery), (s) => s.sentSteps.length === 1);
    // Started as a play of its own, findable like one.
    expect((await dunning.describe()).typedSearchAttributes.get(PLAY)).toBe('dunning');
    // The ended invoice is paid after all (nothing left to stop), then the subscription ends.
    await customer.signal(stripeEventSignal, event('invoice.payment_succeeded', 'in_void'));
    await customer.signal(stripeEventSignal, event('customer.subscription.deleted', 'sub_1'));
    expect(await dunning.result()).toEqual({ outcome: 'subscription_deleted', sentSteps: [0] });
    // The ended one took no signal.
    expect((await ended.fetchHistory()).events?.some((e) => e.workflowExecutionSignaledEventAttributes)).toBe(false);

    const types = ((await customer.fetchHistory()).events ?? []).map((e) => e.eventType);
    const { EventType } = temporal.api.enums.v1;
    expect(types).not.toContain(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED);
    expect(types).not.toContain(EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED);
    // Two starts and two signals (the payment, tried and refused; the subscription's end), each a local activity's marker.
    expect(types.filter((t) => t === EventType.EVENT_TYPE_MARKER_RECORDED).length).toBeGreaterThanOrEqual(4);
    await customer.terminate('test done');
  });

  it("keeps a final invoice's dunning when its subscription ended as the invoice was created, and ends it for a later end", async () => {
    const ws = `ws_${randomUUID().slice(0, 8)}`;
    const invoice = 'in_final';
    const world = fakeWorld('auto');
    const createdAt = Date.now() - 3_600_000;
    world.invoiceCreated = new Date(createdAt).toISOString();
    worlds.set(dunningWorkflowId(ws, invoice), world);
    const customer = await server.client.workflow.start<typeof customerWorkflow>('customerWorkflow', { taskQueue, workflowId: `customer:${ws}:cus_5`, args: [{ workspaceId: ws, customerId: 'cus_5' }] });
    await customer.signal(stripeEventSignal, event('invoice.payment_failed', invoice));
    const dunning = server.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(ws, invoice));
    await eventually(() => dunning.query(dunningStateQuery), (s) => s.sentSteps.length === 1);
    const signalled = async () => ((await dunning.fetchHistory()).events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
    // Cancelled "now": the subscription ended as its final invoice was created.
    await customer.signal(stripeEventSignal, { ...event('customer.subscription.deleted', 'sub_1'), subscriptionEndedAt: new Date(createdAt).toISOString() });
    await eventually(signalled, (count) => count === 1);
    expect((await dunning.query(dunningStateQuery)).phase).not.toBe('finished');
    expect((await dunning.describe()).status.name).toBe('RUNNING');
    // The same subscription's end reported an hour after the invoice (a later delivery of news): the dunning ends.
    await customer.signal(stripeEventSignal, { ...event('customer.subscription.deleted', 'sub_1'), subscriptionEndedAt: new Date(createdAt + 3_600_000).toISOString() });
    expect(await dunning.result()).toEqual({ outcome: 'subscription_deleted', sentSteps: [0] });
    await customer.terminate('test done');
  });

  it("forwards the subscription's deletion, and keeps dunning running when the customer workflow is gone", async () => {
    const ws = `ws_${randomUUID().slice(0, 8)}`;
    const world = fakeWorld('auto');
    worlds.set(dunningWorkflowId(ws, 'in_hub2'), world);
    const customer = await server.client.workflow.start<typeof customerWorkflow>('customerWorkflow', { taskQueue, workflowId: `customer:${ws}:cus_2`, args: [{ workspaceId: ws, customerId: 'cus_2' }] });
    await customer.signal(stripeEventSignal, event('invoice.payment_failed', 'in_hub2'));
    const dunning = server.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(ws, 'in_hub2'));
    await eventually(() => dunning.query(dunningStateQuery), (s) => s.sentSteps.length === 1);
    await customer.signal(stripeEventSignal, event('customer.subscription.deleted', 'sub_other'));
    await customer.signal(stripeEventSignal, event('customer.subscription.deleted', 'sub_1'));
    expect(await dunning.result()).toEqual({ outcome: 'subscription_deleted', sentSteps: [0] });

    // ABANDON: ending the customer's run (as continue-as-new does) leaves a dunning running.
    worlds.set(dunningWorkflowId(ws, 'in_hub3'), fakeWorld('auto'));
    await customer.signal(stripeEventSignal, event('invoice.payment_failed', 'in_hub3'));
    const third = server.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(ws, 'in_hub3'));
    await eventually(() => third.describe(), (d) => d.status.name === 'RUNNING');
    await customer.terminate('ended');
    expect((await third.describe()).status.name).toBe('RUNNING');
    await third.terminate('test done');
  });
});
