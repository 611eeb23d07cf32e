import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createWorker } from '../../workers/worker';
import { AFTER_STALL_PATCH, type dunningWorkflow } from '../../workflows/dunning';
import { draftDecisionSignal, dunningEventSignal, dunningStateQuery } from '../../workflows/play-messages';
import { patchIds, timeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';
import { fakeActivities, fakeWorld, type FakeWorld } from './dunning-activities';

/**
 * The dunning sequence on the time-skipping server: a failed payment's steps over
 * days 0, 3, 7, 14 and 16, with activities standing in for Stripe, the database and
 * the email provider.
 */
describe('dunningWorkflow (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = uniqueTaskQueue('dunning');
  // Each test gets its own world, looked up by workflow id, on one shared worker.
  const worlds = new Map<string, FakeWorld>();

  beforeAll(async () => {
    // Retried: the SDK gives the test server's JVM 5 s to start, which a busy machine can exceed.
    env = await timeSkippingEnv();
    // One set of activities for the worker; each call runs against its workflow's world.
    const worldOf = (input: { workflowId?: string; draftId?: string }): FakeWorld => {
      const id = input.workflowId ?? [...worlds.keys()].find((k) => input.draftId?.startsWith(`draft-${k}-`));
      const world = id ? worlds.get(id) : undefined;
      if (!world) throw new Error(`no world for ${JSON.stringify(input)}`);
      return world;
    };
    const names = Object.keys(fakeActivities(fakeWorld('off'))) as (keyof ReturnType<typeof fakeActivities>)[];
    const route = Object.fromEntries(
      names.map((name) => [
        name,
        (input: { workflowId?: string; draftId?: string }) => (fakeActivities(worldOf(input))[name] as (i: unknown) => Promise<unknown>)(input),
      ]),
    );
    worker = await createWorker({
      connection: env.nativeConnection,
      client: env.client,
      namespace: env.namespace ?? 'default',
      taskQueue,
      overrides: { workflowBundle: await workflowBundle(), activities: route },
    });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  async function start(world: FakeWorld) {
    const invoiceId = `in_${randomUUID().slice(0, 8)}`;
    const workflowId = `dunning:ws_t:${invoiceId}`;
    worlds.set(workflowId, world);
    world.clock = () => env.currentTimeMs();
    const failedAt = new Date(await env.currentTimeMs()).toISOString();
    const handle = await env.client.workflow.start<typeof dunningWorkflow>('dunningWorkflow', {
      taskQueue,
      workflowId,
      args: [{ workspaceId: 'ws_t', customerId: 'cus_1', invoiceId, failedAt }],
    });
    return { handle, workflowId, failedAt: Date.parse(failedAt) };
  }
  const DAY = 86_400_000;

  /** Lets the workflow run up to `days` into the sequence. */
  const advance = (days: number) => env.sleep(`${days} days`);
  const waitFor = async (predicate: () => boolean) => {
    for (let i = 0; i < 100 && !predicate(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(predicate()).toBe(true);
  };
  /** In review mode: approves step 0's draft as a reviewer would and waits until it goes out. */
  const approveFirstStep = async (world: FakeWorld, handle: Awaited<ReturnType<typeof start>>['handle'], workflowId: string) => {
    const draftId = `draft-${workflowId}-0`;
    await waitFor(() => world.drafts.has(draftId));
    world.drafts.get(draftId)!.status = 'approved';
    await handle.signal(draftDecisionSignal, { draftId, status: 'approved' });
    await waitFor(() => world.sent.length === 1);
  };

  it('in auto mode sends every step, then settles as exhausted', async () => {
    const world = fakeWorld('auto');
    const { handle, failedAt } = await start(world);
    const result = await handle.result();
    expect(result).toEqual({ outcome: 'exhausted', sentSteps: [0, 1, 2, 3, 4] });
    expect(world.sent.map((s) => s.step)).toEqual([0, 1, 2, 3, 4]);
    expect(world.closed).toEqual([{ outcome: 'exhausted', sentSteps: [0, 1, 2, 3, 4] }]);
    // Each on its day (to the minute), with none of the changes made for a stall: the same commands as before them.
    expect(world.sent.map((s) => Math.round((s.at - failedAt) / 60_000) / 1440)).toEqual([0, 3, 7, 14, 16]);
    expect(patchIds(await handle.fetchHistory())).not.toContain(AFTER_STALL_PATCH);
  });

  /** After a stall from day 3 to day 15.5: emails 1 and 4 sent, the latter late, and email 5 a day after it. */
  const expectSentAfterStall = async (world: FakeWorld, handle: Awaited<ReturnType<typeof start>>['handle'], failedAt: number) => {
    expect(await handle.result()).toEqual({ outcome: 'exhausted', sentSteps: [0, 3, 4] });
    const [, fourth, fifth] = world.sent;
    expect(fourth!.at - failedAt).toBeGreaterThan(15.5 * DAY);
    // Email 5 (day 16) waits until a day after email 4 went.
    expect(fifth!.at - fourth!.at).toBeGreaterThanOrEqual(DAY);
    expect(fifth!.at - failedAt).toBeGreaterThan(16 * DAY);
    expect(patchIds(await handle.fetchHistory())).toContain(AFTER_STALL_PATCH);
  };

  it('a send held from email 2 until day 15.5 cancels each email overtaken meanwhile, sends email 4 then and email 5 a day after it', async () => {
    const world = fakeWorld('auto');
    const { handle, workflowId, failedAt } = await start(world);
    await waitFor(() => world.sent.length === 1);
    // The provider refuses from email 2 (day 3) on; the send is retried, backing off to 30 minutes.
    world.senderDown = true;
    await env.sleep(15.5 * DAY);
    // Email 2's attempt after day 7 found email 3 due, and email 3's after day 14 email 4: both cancelled, unsent.
    expect(world.sent.map((s) => s.step)).toEqual([0]);
    expect(world.overtaken).toEqual([1, 2]);
    expect([1, 2].map((step) => world.drafts.get(`draft-${workflowId}-${step}`)?.status)).toEqual(['cancelled', 'cancelled']);
    world.senderDown = false;
    await expectSentAfterStall(world, handle, failedAt);
  });

  it('Stripe down from email 2 until day 15.5: the email it held is overtaken and one it could not draft meanwhile is skipped', async () => {
    const world = fakeWorld('auto');
    const { handle, workflowId, failedAt } = await start(world);
    await waitFor(() => world.sent.length === 1);
    await waitFor(() => world.drafts.has(`draft-${workflowId}-1`));
    world.stripeDown = true;
    await env.sleep(15.5 * DAY);
    // Email 2 (drafted ahead) was cancelled at its send once email 3 fell due; email 3
    // could not be drafted while Stripe was down, and is not once email 4 fell due.
    expect(world.overtaken).toEqual([1]);
    expect(world.drafts.get(`draft-${workflowId}-1`)?.status).toBe('cancelled');
    expect(world.drafts.has(`draft-${workflowId}-2`)).toBe(false);
    world.stripeDown = false;
    await expectSentAfterStall(world, handle, failedAt);
  });

  it('a payment before step 2 stops the sequence and cancels the prepared draft', async () => {
    const world = fakeWorld('auto');
    const { handle, workflowId } = await start(world);
    await waitFor(() => world.sent.length === 1);
    await advance(4);
    await waitFor(() => world.sent.length === 2);
    // Step 2 (day 7) is drafted ahead and waiting.
    await waitFor(() => [...world.drafts.values()].some((d) => d.step === 2));
    await handle.signal(dunningEventSignal, { kind: 'payment_succeeded', eventId: 'evt_paid', subscriptionId: null, at: new Date().toISOString() });
    const result = await handle.result();
    expect(result).toEqual({ outcome: 'recovered', sentSteps: [0, 1] });
    expect(world.sent.map((s) => s.step)).toEqual([0, 1]);
    expect(world.drafts.get(`draft-${workflowId}-2`)?.status).toBe('cancelled');
  });

  it('in review mode waits for a decision; a discard that ends the sequence sends nothing', async () => {
    const world = fakeWorld('review');
    const { handle, workflowId } = await start(world);
    await advance(2);
    expect((await handle.query(dunningStateQuery)).phase).toBe('waiting_for_review');
    expect(world.sent).toEqual([]);
    const draftId = `draft-${workflowId}-0`;
    world.drafts.get(draftId)!.status = 'discarded';
    await handle.signal(draftDecisionSignal, { draftId, status: 'discarded', endSequence: true });
    expect(await handle.result()).toEqual({ outcome: 'discarded', sentSteps: [] });
    expect(world.sent).toEqual([]);
  });

  it('in review mode an approved draft goes out; a plain discard skips only its step', async () => {
    const world = fakeWorld('review');
    const { handle, workflowId } = await start(world);
    await approveFirstStep(world, handle, workflowId);
    // Step 1's draft is ready ahead of day 3; discard it.
    await waitFor(() => world.drafts.has(`draft-${workflowId}-1`));
    world.drafts.get(`draft-${workflowId}-1`)!.status = 'discarded';
    await handle.signal(draftDecisionSignal, { draftId: `draft-${workflowId}-1`, status: 'discarded' });
    await advance(4);
    expect(world.sent.map((s) => s.step)).toEqual([0]);
    expect((await handle.query(dunningStateQuery)).stepIndex).toBe(2);
    await handle.signal(dunningEventSignal, { kind: 'subscription_deleted', eventId: null, subscriptionId: 'sub_1', at: new Date().toISOString() });
    expect(await handle.result()).toEqual({ outcome: 'subscription_deleted', sentSteps: [0] });
  });

  it('a Stripe outage pauses the send and recovery resumes it; nothing goes out meanwhile', async () => {
    const world = fakeWorld('auto');
    world.stripeDown = true;
    const { handle } = await start(world);
    await advance(1);
    expect((await handle.query(dunningStateQuery)).phase).toBe('waiting_for_stripe');
    expect(world.sent).toEqual([]);
    world.stripeDown = false;
    await advance(1);
    await waitFor(() => world.sent.length === 1);
    // Another outage at step 1: it waits, then sends once Stripe answers again.
    await waitFor(() => world.drafts.size === 2);
    world.stripeDown = true;
    await advance(3);
    expect(world.sent.length).toBe(1);
    expect((await handle.query(dunningStateQuery)).phase).toBe('waiting_for_stripe');
    world.stripeDown = false;
    await advance(1);
    await waitFor(() => world.sent.length === 2);
    await handle.terminate('test done');
  });

  it('an invoice closed in Stripe before a send ends the sequence without sending', async () => {
    const world = fakeWorld('auto');
    const { handle } = await start(world);
    await waitFor(() => world.sent.length === 1);
    world.invoiceStatus = 'void';
    expect(await handle.result()).toEqual({ outcome: 'invoice_closed', sentSteps: [0] });
    expect(world.sent.length).toBe(1);
  });

  it('a subscription end a check finds mid-sequence ends it, keeping what was sent', async () => {
    const world = fakeWorld('review');
    const { handle, workflowId } = await start(world);
    await approveFirstStep(world, handle, workflowId);
    // Step 1 waits for review (drafted ahead); no signal comes, the step's check finds the subscription ended in the mirror.
    await waitFor(() => world.drafts.get(`draft-${workflowId}-1`)?.status === 'drafted');
    world.endOnCheck = 'subscription_deleted';
    await advance(4);
    expect(await handle.result()).toEqual({ outcome: 'subscription_deleted', sentSteps: [0] });
    expect(world.drafts.get(`draft-${workflowId}-1`)?.status).toBe('cancelled');
    expect(world.closed).toEqual([{ outcome: 'subscription_deleted', sentSteps: [0] }]);
  });

  it('after the settling days, a last look finds a payment no signal brought', async () => {
    const world = fakeWorld('auto');
    const { handle } = await start(world);
    await advance(17);
    await waitFor(() => world.sent.length === 5);
    expect((await handle.query(dunningStateQuery)).phase).toBe('settling');
    world.endOnCheck = 'paid_out_of_band';
    expect(await handle.result()).toEqual({ outcome: 'paid_out_of_band', sentSteps: [0, 1, 2, 3, 4] });
    expect(world.closed).toEqual([{ outcome: 'paid_out_of_band', sentSteps: [0, 1, 2, 3, 4] }]);
  });

  it('an end its first check finds ends it with nothing drafted', async () => {
    const world = fakeWorld('auto');
    world.endOnCheck = 'invoice_closed';
    const { handle } = await start(world);
    expect(await handle.result()).toEqual({ outcome: 'invoice_closed', sentSteps: [] });
    expect(world.drafts.size).toBe(0);
  });

  it('an invoice a send finds marked paid out of band ends the sequence so labelled', async () => {
    const world = fakeWorld('auto');
    const { handle } = await start(world);
    await waitFor(() => world.sent.length === 1);
    world.invoiceStatus = 'paid';
    world.paidOffStripe = true;
    expect(await handle.result()).toEqual({ outcome: 'paid_out_of_band', sentSteps: [0] });
    expect(world.closed).toEqual([{ outcome: 'paid_out_of_band', sentSteps: [0] }]);
  });

  it('a mode change mid-sequence takes effect at the next step', async () => {
    const world = fakeWorld('auto');
    const { handle, workflowId } = await start(world);
    await waitFor(() => world.sent.length === 1);
    await waitFor(() => world.drafts.get(`draft-${workflowId}-1`)?.status === 'scheduled');
    world.mode = 'review';
    await advance(4);
    // Step 1 was scheduled under auto; under review it waits for a person.
    expect(world.sent.map((s) => s.step)).toEqual([0]);
    expect(world.drafts.get(`draft-${workflowId}-1`)?.status).toBe('drafted');
    expect((await handle.query(dunningStateQuery)).phase).toBe('waiting_for_review');
    // Switching to off: nothing more is drafted or sent, the waiting draft is cancelled.
    world.mode = 'off';
    await advance(30);
    expect(await handle.result()).toEqual({ outcome: 'exhausted', sentSteps: [0] });
    expect(world.drafts.get(`draft-${workflowId}-1`)?.status).toBe('cancelled');
    expect(world.sent.length).toBe(1);
  });

  it('ignores the deletion of another subscription', async () => {
    const world = fakeWorld('auto');
    const { handle } = await start(world);
    await waitFor(() => world.sent.length === 1);
    await handle.signal(dunningEventSignal, { kind: 'subscription_deleted', eventId: null, subscriptionId: 'sub_other', at: new Date().toISOString() });
    await advance(4);
    await waitFor(() => world.sent.length === 2);
    await handle.signal(dunningEventSignal, { kind: 'paid_out_of_band', eventId: null, subscriptionId: null, at: new Date().toISOString() });
    expect(await handle.result()).toEqual({ outcome: 'paid_out_of_band', sentSteps: [0, 1] });
  });
});
