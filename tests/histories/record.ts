/**
 * Records workflow histories for the replay tests: `npm run record-histories`.
 * Run it when a workflow gains new behaviour worth protecting, and commit the JSON.
 * Only files that do not exist yet are recorded (name one to record it again:
 * `npm run record-histories -- <file>`). Never re-record to make a failing replay
 * test pass: that failure means running workflows would break; guard the change
 * with patched() instead.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import type { Workflow, WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import type { AnalyticsActivities } from '../../activities/analytics';
import { createPlayHubActivities } from '../../activities/play-hub';
import type { SyncActivities } from '../../activities/sync';
import { RUN_HISTORY_EVENTS, type customerWorkflow } from '../../workflows/customer';
import type { dunningWorkflow } from '../../workflows/dunning';
import type { churnSaveWorkflow } from '../../workflows/churn-save';
import type { expansionPitchWorkflow } from '../../workflows/expansion-pitch';
import type { renewalNoteWorkflow } from '../../workflows/renewal-note';
import { churnSaveWorkflowId, customerWorkflowId, dunningWorkflowId, expansionPitchWorkflowId, renewalNoteWorkflowId, syncWorkflowId } from '../../workflows/ids';
import { recentEventsQuery, stripeEventSignal, stripeEventsSignal } from '../../workflows/messages';
import { churnSaveStateQuery, draftDecisionSignal, dunningEventSignal, dunningStateQuery, expansionPitchStateQuery, playSettingsChangedSignal, renewalNoteStateQuery } from '../../workflows/play-messages';
import type { DraftStatus } from '../../domain/drafts';
import { DEFAULT_DUNNING_SCHEDULE } from '../../domain/dunning-schedule';
import type { RolloutMode } from '../../domain/rollout';
import type { syncWorkflow } from '../../workflows/sync';
import { syncProgressQuery, syncProgressSignal, SYNC_RESOURCES } from '../../workflows/sync-messages';
import { ensureSearchAttributes } from '../../workers/search-attributes';
import { workflowsPath } from '../../workers/worker';
import { toolPaths } from '../setup/tools';
import { fakeActivities, fakeWorld, type FakeWorld } from '../workflows/dunning-activities';

type History = temporal.api.history.v1.IHistory;

interface Recording {
  file: string;
  /** The dev server (real time) or the time-skipping test server (for sequences over days). */
  server: 'dev' | 'time-skipping';
  record(env: TestWorkflowEnvironment, taskQueue: string): Promise<History>;
  /**
   * Why the file must never be recorded again: it holds code paths that only
   * histories from before a patch take, and today's code would record the new ones.
   */
  frozen?: string;
}

const until = async (what: string, check: () => Promise<boolean> | boolean) => {
  for (let i = 0; i < 200; i++) {
    // Not there yet (e.g. a workflow not started yet) counts as "not yet".
    if (await Promise.resolve(check()).catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
};

/**
 * Starts a one-email play's workflow (a churn save, an expansion pitch, a renewal note)
 * against the stand-in outreach activities, in `mode`, and answers its stand-in state.
 */
async function startOutreach<W extends Workflow>(env: TestWorkflowEnvironment, taskQueue: string, type: string, workflowId: string, mode: RolloutMode, input: Parameters<W>[0]) {
  const w = { mode, status: null as DraftStatus | null, closed: null as string | null };
  outreachWorld.set(workflowId, w);
  // Typed by the caller's workflow: its one argument is `input`.
  const handle = (await env.client.workflow.start(type, { taskQueue, workflowId, args: [input] })) as WorkflowHandle<W>;
  return { w, handle };
}

/** Approves the stand-in outreach's draft, as a person would, and tells its workflow. */
async function approveOutreach(workflowId: string, w: { status: DraftStatus | null }, handle: { signal: WorkflowHandle['signal'] }): Promise<void> {
  w.status = 'approved';
  await handle.signal(draftDecisionSignal, { draftId: outreachDraftId(workflowId), status: 'approved' });
}

/** Starts the customer workflow of `customerId` in the recordings' workspace. */
const startCustomer = (env: TestWorkflowEnvironment, taskQueue: string, customerId: string) =>
  env.client.workflow.start<typeof customerWorkflow>('customerWorkflow', {
    taskQueue,
    workflowId: customerWorkflowId('ws_record', customerId),
    args: [{ workspaceId: 'ws_record', customerId }],
  });

/** Starts a dunning workflow for `invoiceId` with its stand-in world in `mode` (`worldOverrides`: what differs from the default world). */
async function startDunning(env: TestWorkflowEnvironment, taskQueue: string, invoiceId: string, customerId: string, mode: Parameters<typeof fakeWorld>[0], worldOverrides: Partial<FakeWorld> = {}) {
  const workflowId = dunningWorkflowId('ws_record', invoiceId);
  const w = { ...fakeWorld(mode), ...worldOverrides };
  world.set(workflowId, w);
  const handle = await env.client.workflow.start<typeof dunningWorkflow>('dunningWorkflow', {
    taskQueue,
    workflowId,
    args: [{ workspaceId: 'ws_record', customerId, invoiceId, failedAt: new Date(await env.currentTimeMs()).toISOString() }],
  });
  return { workflowId, w, handle };
}

/** Review mode: approves step 0's draft as a reviewer would and waits until it goes out. */
async function approveFirstStep({ workflowId, w, handle }: Awaited<ReturnType<typeof startDunning>>) {
  const draftId = `draft-${workflowId}-0`;
  await until('step 0 drafted', () => w.drafts.has(draftId));
  w.drafts.get(draftId)!.status = 'approved';
  await handle.signal(draftDecisionSignal, { draftId, status: 'approved' });
  await until('step 0 sent', () => w.sent.length === 1);
}

/**
 * Review mode: a reviewed and approved step, a discarded one, an outage at a send, a
 * mode change to auto and a payment at the end.
 */
async function reviewOutagePayment(env: TestWorkflowEnvironment, taskQueue: string, invoiceId: string, customerId: string): Promise<History> {
  const dunning = await startDunning(env, taskQueue, invoiceId, customerId, 'review');
  const { workflowId, w, handle } = dunning;
  const draft = (step: number) => `draft-${workflowId}-${step}`;
  await approveFirstStep(dunning);
  await until('step 1 drafted', () => w.drafts.has(draft(1)));
  w.drafts.get(draft(1))!.status = 'discarded';
  await handle.signal(draftDecisionSignal, { draftId: draft(1), status: 'discarded' });
  await env.sleep('4 days');
  await until('step 2 drafted', () => w.drafts.has(draft(2)));
  w.stripeDown = true;
  w.mode = 'auto';
  await env.sleep('4 days');
  w.stripeDown = false;
  await env.sleep('2 hours');
  await until('step 2 sent', () => w.sent.length === 2);
  await handle.signal(dunningEventSignal, { kind: 'payment_succeeded', eventId: 'evt_paid', subscriptionId: null, at: new Date().toISOString() });
  await handle.result();
  return handle.fetchHistory();
}

/**
 * A customer whose first dunning ends at once (its invoice is void) and whose second
 * stays live: the void invoice is paid later, then the subscription ends (which stops
 * the live one). `repeatLiveFailure`: Stripe's retry of the live invoice fails too.
 */
async function voidThenLive(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  o: { customer: string; ids: string; voidInvoice: string; liveInvoice: string; repeatLiveFailure: boolean },
): Promise<History> {
  const handle = await startCustomer(env, taskQueue, o.customer);
  let n = 0;
  const send = (type: string, objectId: string) =>
    handle.signal(stripeEventSignal, { eventId: `evt_${o.ids}_${++n}`, type, stripeCreated: new Date().toISOString(), objectId, inboxSeq: n });
  await send('invoice.payment_failed', o.voidInvoice);
  const ended = env.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId('ws_record', o.voidInvoice));
  await until('the void invoice’s dunning to end', async () => (await ended.describe()).status.name === 'COMPLETED');
  await send('invoice.payment_failed', o.liveInvoice);
  if (o.repeatLiveFailure) await send('invoice.payment_failed', o.liveInvoice);
  const live = env.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId('ws_record', o.liveInvoice));
  await until('the live dunning to send its first email', async () => (await live.query(dunningStateQuery)).sentSteps.length === 1);
  await send('invoice.payment_succeeded', o.voidInvoice);
  await send('customer.subscription.deleted', 'sub_1');
  await live.result();
  await handle.query(recentEventsQuery);
  await handle.terminate('recorded');
  return handle.fetchHistory();
}

/** Sync runs whose resources wait until the recording releases them. */
const syncGates = new Map<string, { waiting: Promise<void>; release: () => void; calls: number }>();
/** `<run>:<resource>` pairs the stand-in sync refuses, as Stripe refuses a key without a permission. */
const syncRefusals = new Set<string>();

/** Stand-ins for the sync's activities: each resource waits at its run's gate, then reports two pages. */
const syncActivities: SyncActivities & Pick<AnalyticsActivities, 'recomputeWorkspaceAnalytics'> = {
  async syncResource(input) {
    const gate = syncGates.get(input.runId);
    if (gate) gate.calls++;
    // A refusal comes at once, while the run's other resources still wait at the gate.
    if (syncRefusals.has(`${input.runId}:${input.resource}`)) throw ApplicationFailure.nonRetryable('Stripe refused the charges list: permission missing', 'StripeRefused');
    await gate?.waiting;
    return { objects: 20, pages: 2, resumedFrom: null };
  },
  completeSyncRun: () => Promise.resolve(),
  recomputeWorkspaceAnalytics: () => Promise.resolve({ customers: 0, movements: 0, mrr: 0, warnings: 0 }),
};

/** Starts a full sync whose resources all wait until `release`, which lets them finish together. */
async function startSync(env: TestWorkflowEnvironment, taskQueue: string, runId: string) {
  let release = () => {};
  const gate = { waiting: new Promise<void>((r) => (release = r)), release: () => release(), calls: 0 };
  syncGates.set(runId, gate);
  const handle = await env.client.workflow.start<typeof syncWorkflow>('syncWorkflow', {
    taskQueue,
    workflowId: syncWorkflowId('ws_record', runId),
    args: [{ workspaceId: 'ws_record', runId, windowStart: '2024-01-01T00:00:00.000Z', mode: 'full' }],
  });
  await until(`every resource of ${runId} under way`, () => gate.calls === SYNC_RESOURCES.length);
  return { handle, release: gate.release };
}

const recordings: Recording[] = [
  {
    file: 'customerWorkflow-signals-and-duplicate.json',
    server: 'dev',
    async record(env, taskQueue) {
      const handle = await startCustomer(env, taskQueue, 'cus_record');
      const types = ['customer.subscription.created', 'invoice.payment_failed', 'invoice.payment_failed', 'invoice.payment_succeeded'];
      for (const [i, type] of types.entries()) {
        // The third signal repeats the second event id: a re-delivery.
        const n = i === 2 ? 1 : i;
        await handle.signal(stripeEventSignal, { eventId: `evt_rec_${n}`, type, stripeCreated: new Date(Date.UTC(2026, 0, 1, n)).toISOString(), objectId: `obj_${n}`, inboxSeq: n + 1 });
      }
      await handle.query(recentEventsQuery);
      await handle.terminate('recorded');
      return handle.fetchHistory();
    },
  },
  {
    // The customer workflow as a hub: a failed payment starts the invoice's dunning,
    // a re-delivery and a second failure do not start another, the payment stops it.
    file: 'customerWorkflow-routes-dunning.json',
    // The dev server: the dunning workflows start with search attributes, which the
    // time-skipping server cannot register.
    server: 'dev',
    frozen: 'recorded before PLAYS_BY_LOCAL_ACTIVITY_PATCH: the dunning started as a child and signalled from the workflow',
    async record(env, taskQueue) {
      const handle = await startCustomer(env, taskQueue, 'cus_route');
      const event = (n: number, type: string, objectId: string) => ({ eventId: `evt_route_${n}`, type, stripeCreated: new Date().toISOString(), objectId, inboxSeq: n });
      await handle.signal(stripeEventSignal, event(1, 'invoice.payment_failed', 'in_route'));
      await handle.signal(stripeEventSignal, event(1, 'invoice.payment_failed', 'in_route'));
      await handle.signal(stripeEventSignal, event(2, 'invoice.payment_failed', 'in_route'));
      const dunning = env.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId('ws_record', 'in_route'));
      await until('the dunning to send its first email', async () => (await dunning.query(dunningStateQuery)).sentSteps.length === 1);
      await handle.signal(stripeEventSignal, event(3, 'invoice.payment_succeeded', 'in_route'));
      await dunning.result();
      await handle.signal(stripeEventSignal, event(4, 'customer.subscription.deleted', 'sub_1'));
      await handle.query(recentEventsQuery);
      await handle.terminate('recorded');
      return handle.fetchHistory();
    },
  },
  {
    // SKIP_ENDED_DUNNING_PATCH: a dunning that ends at once (its invoice is void) gets
    // nothing when its invoice is paid later; a live one still gets the subscription's end.
    file: 'customerWorkflow-skips-ended-dunning.json',
    server: 'dev',
    frozen: 'recorded before PLAYS_BY_LOCAL_ACTIVITY_PATCH: the only history where a child seen to end is not signalled',
    record: (env, taskQueue) => voidThenLive(env, taskQueue, { customer: 'cus_skip', ids: 'skip', voidInvoice: 'in_void', liveInvoice: 'in_live', repeatLiveFailure: false }),
  },
  {
    // PLAYS_BY_LOCAL_ACTIVITY_PATCH: the same story with the dunnings started and
    // signalled through local activities (markers instead of child and signal events).
    file: 'customerWorkflow-plays-by-local-activity.json',
    server: 'dev',
    record: (env, taskQueue) => voidThenLive(env, taskQueue, { customer: 'cus_hub', ids: 'hub', voidInvoice: 'in_hub_void', liveInvoice: 'in_hub_live', repeatLiveFailure: true }),
  },
  {
    // BOUNDED_RUN_PATCH: a run that reaches RUN_HISTORY_EVENTS continues as new (its
    // first run is recorded, ending in the continue-as-new with the patch's marker).
    file: 'customerWorkflow-bounded-run.json',
    server: 'dev',
    async record(env, taskQueue) {
      const handle = await startCustomer(env, taskQueue, 'cus_bounded');
      const firstRun = handle.firstExecutionRunId;
      for (let n = 1; (await handle.describe()).runId === firstRun; n++) {
        if (n > RUN_HISTORY_EVENTS) throw new Error('the run did not continue as new');
        await handle.signal(stripeEventSignal, { eventId: `evt_bounded_${n}`, type: 'invoice.payment_succeeded', stripeCreated: new Date().toISOString(), objectId: `in_bounded_${n}`, inboxSeq: n });
      }
      const history = await env.client.workflow.getHandle(handle.workflowId, firstRun).fetchHistory();
      await handle.terminate('recorded');
      return history;
    },
  },
  {
    // Events in batches, as the relay sends a customer's backlog: a batch with a
    // re-delivered id, a failed payment that starts dunning, then its payment.
    file: 'customerWorkflow-event-batches.json',
    server: 'dev',
    frozen: 'recorded before PLAYS_BY_LOCAL_ACTIVITY_PATCH: the dunning started as a child and signalled from the workflow',
    async record(env, taskQueue) {
      const handle = await startCustomer(env, taskQueue, 'cus_batch');
      const event = (n: number, type: string, objectId: string) => ({ eventId: `evt_batch_${n}`, type, stripeCreated: new Date().toISOString(), objectId, inboxSeq: n });
      await handle.signal(stripeEventsSignal, [event(1, 'customer.subscription.created', 'sub_b'), event(2, 'customer.subscription.updated', 'sub_b'), event(1, 'customer.subscription.created', 'sub_b')]);
      await handle.signal(stripeEventsSignal, [event(3, 'customer.subscription.updated', 'sub_b'), event(4, 'invoice.payment_failed', 'in_batch')]);
      const dunning = env.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId('ws_record', 'in_batch'));
      await until('the dunning to send its first email', async () => (await dunning.query(dunningStateQuery)).sentSteps.length === 1);
      await handle.signal(stripeEventsSignal, [event(5, 'invoice.payment_succeeded', 'in_batch')]);
      await dunning.result();
      await handle.query(recentEventsQuery);
      await handle.terminate('recorded');
      return handle.fetchHistory();
    },
  },
  {
    // Review mode: a reviewed and approved step, a discarded one, an outage at a send,
    // a mode change to auto and a payment at the end.
    file: 'dunningWorkflow-review-outage-payment.json',
    server: 'time-skipping',
    record: (env, taskQueue) => reviewOutagePayment(env, taskQueue, 'in_review', 'cus_review'),
    frozen: 'recorded before LOCAL_BOOKKEEPING_PATCH: the only history with the bookkeeping as activities',
  },
  {
    // The same story since LOCAL_BOOKKEEPING_PATCH: bookkeeping as local activities.
    file: 'dunningWorkflow-local-bookkeeping-review.json',
    server: 'time-skipping',
    record: (env, taskQueue) => reviewOutagePayment(env, taskQueue, 'in_local', 'cus_local'),
  },
  {
    // Auto mode, then a switch to review (told by the settings signal) and to off:
    // the waiting draft is cancelled and the sequence settles as exhausted.
    file: 'dunningWorkflow-auto-mode-changes-exhausted.json',
    server: 'time-skipping',
    async record(env, taskQueue) {
      const { w, handle } = await startDunning(env, taskQueue, 'in_modes', 'cus_modes', 'auto');
      await until('step 0 sent', () => w.sent.length === 1);
      w.mode = 'review';
      await env.sleep('4 days');
      await until('step 1 waiting for review', async () => (await handle.query(dunningStateQuery)).phase === 'waiting_for_review');
      w.mode = 'off';
      await handle.signal(playSettingsChangedSignal);
      await handle.result();
      return handle.fetchHistory();
    },
  },
  {
    // Review mode: step 0 approved and sent, then the mirror shows the subscription
    // ended (no signal came) and the check at step 1's time ends the sequence.
    file: 'dunningWorkflow-mirror-shows-end.json',
    server: 'time-skipping',
    async record(env, taskQueue) {
      const dunning = await startDunning(env, taskQueue, 'in_mirror_end', 'cus_mirror_end', 'review');
      const { workflowId, w, handle } = dunning;
      await approveFirstStep(dunning);
      await until('step 1 drafted', () => w.drafts.has(`draft-${workflowId}-1`));
      w.endOnCheck = 'subscription_deleted';
      await env.sleep('4 days');
      await handle.result();
      return handle.fetchHistory();
    },
  },
  {
    // Auto mode through every step and the settling days; the invoice was paid out of
    // band meanwhile with no signal, and the last look ends it so labelled.
    file: 'dunningWorkflow-final-check.json',
    server: 'time-skipping',
    async record(env, taskQueue) {
      const { w, handle } = await startDunning(env, taskQueue, 'in_final_check', 'cus_final_check', 'auto');
      await env.sleep('17 days');
      await until('every step sent', () => w.sent.length === 5);
      w.endOnCheck = 'paid_out_of_band';
      await handle.result();
      return handle.fetchHistory();
    },
  },
  {
    // Auto mode for a subscription's final invoice: the end signalled with the invoice's
    // own time leaves the dunning running; the same end reported later ends it.
    file: 'dunningWorkflow-final-invoice-end.json',
    server: 'time-skipping',
    async record(env, taskQueue) {
      const createdAt = (await env.currentTimeMs()) - 3_600_000;
      const { w, handle } = await startDunning(env, taskQueue, 'in_final_invoice', 'cus_final_invoice', 'auto', { invoiceCreated: new Date(createdAt).toISOString() });
      await until('step 0 sent', () => w.sent.length === 1);
      const end = (endedAt: number) => ({ kind: 'subscription_deleted' as const, eventId: null, subscriptionId: 'sub_1', at: new Date().toISOString(), subscriptionEndedAt: new Date(endedAt).toISOString() });
      await handle.signal(dunningEventSignal, end(createdAt));
      await env.sleep('4 days');
      await until('step 1 sent', () => w.sent.length === 2);
      await handle.signal(dunningEventSignal, end(createdAt + 3_600_000));
      await handle.result();
      return handle.fetchHistory();
    },
  },
  {
    // Auto mode with emails on days 0 to 4, each held up: the provider refuses from
    // email 2 until day 3.5, and Stripe is down from day 1.9 until then. Email 2's send
    // finds email 3 due and cancels its draft, email 3 is never drafted once email 4 fell
    // due, email 4 goes at day 3.5 and email 5 a day after it (AFTER_STALL_PATCH).
    file: 'dunningWorkflow-after-stall.json',
    server: 'time-skipping',
    async record(env, taskQueue) {
      const steps = [0, 1, 2, 3, 4].map((day, i) => ({ day, tone: (['friendly', 'helpful', 'firm', 'urgent', 'final'] as const)[i]! }));
      const clock = () => env.currentTimeMs();
      const { workflowId, w, handle } = await startDunning(env, taskQueue, 'in_after_stall', 'cus_after_stall', 'auto', { clock, schedule: { ...DEFAULT_DUNNING_SCHEDULE, steps } });
      await until('step 1 drafted', () => w.drafts.has(`draft-${workflowId}-1`));
      w.senderDown = true;
      await env.sleep(1.9 * 86_400_000);
      w.stripeDown = true;
      await env.sleep(1.6 * 86_400_000);
      w.stripeDown = false;
      w.senderDown = false;
      await handle.result();
      return handle.fetchHistory();
    },
  },
  {
    // A churn save in review: drafted, a settings change re-read while it waits, then
    // approved by a person and sent.
    file: 'churnSaveWorkflow-review-approve.json',
    server: 'time-skipping',
    async record(env, taskQueue) {
      const workflowId = churnSaveWorkflowId('ws_record', 'save_review');
      const { w, handle } = await startOutreach<typeof churnSaveWorkflow>(env, taskQueue, 'churnSaveWorkflow', workflowId, 'review', { workspaceId: 'ws_record', customerId: 'cus_churn', saveId: 'save_review', workflowId });
      await until('the save drafted', () => w.status === 'drafted');
      await handle.signal(playSettingsChangedSignal);
      await handle.query(churnSaveStateQuery);
      await approveOutreach(workflowId, w, handle);
      const outcome = await handle.result();
      if (outcome !== 'sent' || w.closed !== 'sent') throw new Error(`the recorded save ended ${outcome} (closed as ${w.closed}), not sent`);
      return handle.fetchHistory();
    },
  },
  {
    // A churn save in auto mode in a workspace with no sender yet: the send waits, then
    // goes once the email settings are saved (which wakes it).
    file: 'churnSaveWorkflow-auto-waits-for-sender.json',
    server: 'time-skipping',
    async record(env, taskQueue) {
      const workflowId = churnSaveWorkflowId('ws_record', 'save_no_sender');
      outreachWorld.set(workflowId, { mode: 'auto', status: null, closed: null, noSender: true });
      const handle = await env.client.workflow.start<typeof churnSaveWorkflow>('churnSaveWorkflow', { taskQueue, workflowId, args: [{ workspaceId: 'ws_record', customerId: 'cus_churn', saveId: 'save_no_sender', workflowId }] });
      const w = outreachWorld.get(workflowId)!;
      await until('the send waiting for a sender', async () => (await handle.query(churnSaveStateQuery)).phase === 'waiting_for_sender');
      w.noSender = false;
      await handle.signal(playSettingsChangedSignal);
      const outcome = await handle.result();
      if (outcome !== 'sent' || w.closed !== 'sent') throw new Error(`the recorded save ended ${outcome} (closed as ${w.closed}), not sent`);
      return handle.fetchHistory();
    },
  },
  {
    // An expansion pitch in review: drafted, then the play switched off while it waits,
    // which cancels the draft and ends the pitch.
    file: 'expansionPitchWorkflow-review-then-off.json',
    server: 'time-skipping',
    async record(env, taskQueue) {
      const workflowId = expansionPitchWorkflowId('ws_record', 'pitch_off');
      const { w, handle } = await startOutreach<typeof expansionPitchWorkflow>(env, taskQueue, 'expansionPitchWorkflow', workflowId, 'review', { workspaceId: 'ws_record', customerId: 'cus_pitch', pitchId: 'pitch_off', workflowId });
      await until('the pitch drafted', () => w.status === 'drafted');
      await handle.query(expansionPitchStateQuery);
      w.mode = 'off';
      await handle.signal(playSettingsChangedSignal);
      const outcome = await handle.result();
      if (outcome !== 'off' || w.closed !== 'off' || w.status !== 'cancelled') throw new Error(`the recorded pitch ended ${outcome} (closed as ${w.closed}, draft ${w.status}), not off`);
      return handle.fetchHistory();
    },
  },
  {
    // An expansion pitch in auto mode: sent at once, no review.
    file: 'expansionPitchWorkflow-auto-sent.json',
    server: 'time-skipping',
    async record(env, taskQueue) {
      const workflowId = expansionPitchWorkflowId('ws_record', 'pitch_auto');
      const { w, handle } = await startOutreach<typeof expansionPitchWorkflow>(env, taskQueue, 'expansionPitchWorkflow', workflowId, 'auto', { workspaceId: 'ws_record', customerId: 'cus_pitch', pitchId: 'pitch_auto', workflowId });
      const outcome = await handle.result();
      if (outcome !== 'sent' || w.closed !== 'sent' || w.status !== 'sent') throw new Error(`the recorded pitch ended ${outcome} (closed as ${w.closed}, draft ${w.status}), not sent`);
      return handle.fetchHistory();
    },
  },
  {
    // A renewal note in review, its renewal ten days out: drafted, approved by a person and sent.
    file: 'renewalNoteWorkflow-review-approve.json',
    server: 'time-skipping',
    async record(env, taskQueue) {
      const workflowId = renewalNoteWorkflowId('ws_record', 'note_review');
      const renewsAt = new Date((await env.currentTimeMs()) + 10 * 86_400_000).toISOString();
      const input = { workspaceId: 'ws_record', customerId: 'cus_renew', noteId: 'note_review', workflowId, subscriptionId: 'sub_renew', renewsAt };
      const { w, handle } = await startOutreach<typeof renewalNoteWorkflow>(env, taskQueue, 'renewalNoteWorkflow', workflowId, 'review', input);
      await until('the note drafted', () => w.status === 'drafted');
      await handle.query(renewalNoteStateQuery);
      await approveOutreach(workflowId, w, handle);
      const outcome = await handle.result();
      if (outcome !== 'sent' || w.closed !== 'sent') throw new Error(`the recorded note ended ${outcome} (closed as ${w.closed}), not sent`);
      return handle.fetchHistory();
    },
  },
  {
    // A full sync: progress signals (one older than the last, which is kept out) and a
    // query while the resources run, then the rebuild of the analytics and completion.
    file: 'syncWorkflow-progress-and-completion.json',
    server: 'dev',
    async record(env, taskQueue) {
      const { handle, release } = await startSync(env, taskQueue, 'run_progress');
      const at = new Date().toISOString();
      await handle.signal(syncProgressSignal, { resource: 'invoices', objects: 300, pages: 3, done: false, fraction: 0.5, etaSeconds: 12, at });
      await handle.signal(syncProgressSignal, { resource: 'invoices', objects: 100, pages: 1, done: false, fraction: 0.1, etaSeconds: 90, at });
      await handle.query(syncProgressQuery);
      release();
      await handle.result();
      return handle.fetchHistory();
    },
  },
  {
    // One resource refused while the others still run: they are cancelled, the run is
    // marked failed and the workflow fails.
    file: 'syncWorkflow-refused-resource.json',
    server: 'dev',
    async record(env, taskQueue) {
      syncRefusals.add('run_refused:charges');
      const { handle, release } = await startSync(env, taskQueue, 'run_refused');
      await handle.result().catch(() => undefined);
      release();
      return handle.fetchHistory();
    },
  },
];

/** The stand-in state of each one-email outreach (a churn save, an expansion pitch): the play's mode, its one draft's status, how it ended. */
const outreachWorld = new Map<string, { mode: RolloutMode; status: DraftStatus | null; closed: string | null; noSender?: boolean }>();
const outreachDraftId = (workflowId: string) => `outreach-draft-${workflowId}`;
const outreachOf = (input: { workflowId?: string; draftId?: string }) => outreachWorld.get(input.workflowId ?? input.draftId?.replace(/^outreach-draft-/, '') ?? '');

/** A stand-in outreach's draft as the mode wants it (activities/outreach-draft.ts's contract). */
function prepareOutreach(input: { workflowId: string }) {
  const w = outreachOf(input)!;
  if (w.mode !== 'off' && !w.status) w.status = w.mode === 'auto' ? 'scheduled' : 'drafted';
  if (w.mode === 'review' && w.status === 'scheduled') w.status = 'drafted';
  if (w.mode === 'off' && w.status && ['drafted', 'approved', 'edited', 'scheduled'].includes(w.status)) w.status = 'cancelled';
  return Promise.resolve({ kind: 'ready', mode: w.mode, draft: w.status ? { id: outreachDraftId(input.workflowId), status: w.status } : null });
}
function closeOutreach(input: { workflowId: string; outcome: string }) {
  outreachOf(input)!.closed = input.outcome;
  return Promise.resolve();
}

/** Stand-ins for the outreach plays' activities, with the contract of activities/churn-save.ts, activities/expansion.ts and the sending's. */
const outreachActivities = {
  prepareChurnSave: prepareOutreach,
  closeChurnSave: closeOutreach,
  prepareExpansionPitch: prepareOutreach,
  closeExpansionPitch: closeOutreach,
  prepareRenewalNote: prepareOutreach,
  closeRenewalNote: closeOutreach,
  sendDraft(input: { draftId: string; allowDrafted?: boolean }) {
    const w = outreachOf(input)!;
    if (w.status === 'drafted' && input.allowDrafted) w.status = 'scheduled';
    if (!['approved', 'edited', 'scheduled'].includes(w.status ?? '')) return Promise.resolve({ kind: 'not_sendable', status: w.status ?? 'missing' });
    if (w.noSender) return Promise.resolve({ kind: 'no_sender', error: 'the workspace has no from-address configured' });
    w.status = 'sent';
    return Promise.resolve({ kind: 'sent', providerMessageId: 'msg-churn' });
  },
  cancelOpenDrafts(input: { workflowId: string }) {
    const w = outreachOf(input)!;
    const open = w.status !== null && ['drafted', 'approved', 'edited', 'scheduled'].includes(w.status);
    if (open) w.status = 'cancelled';
    return Promise.resolve(open ? 1 : 0);
  },
};

/** The stand-in activities' state per dunning workflow, for the recordings above. */
const world = new Map<string, ReturnType<typeof fakeWorld>>();

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const requested = process.argv.slice(2);
  for (const r of recordings.filter((r) => r.frozen && requested.includes(r.file))) console.log(`not recording ${r.file}: ${r.frozen}`);
  const todo = recordings.filter((r) => !(r.frozen && existsSync(path.join(__dirname, r.file))) && (requested.length ? requested.includes(r.file) : !existsSync(path.join(__dirname, r.file))));
  if (!todo.length) console.log('every history is recorded; name a file to record it again');
  for (const recording of todo) {
    const env =
      recording.server === 'dev'
        ? await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: toolPaths().temporal } } })
        : await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: toolPaths().testServer } } });
    const taskQueue = `record-${randomUUID()}`;
    if (recording.server === 'dev') await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
    // Activities run against in-memory stand-ins keyed by workflow id (the routing recording's dunning included).
    world.set(dunningWorkflowId('ws_record', 'in_route'), fakeWorld('auto'));
    world.set(dunningWorkflowId('ws_record', 'in_batch'), fakeWorld('auto'));
    world.set(dunningWorkflowId('ws_record', 'in_void'), { ...fakeWorld('auto'), invoiceStatus: 'void' });
    world.set(dunningWorkflowId('ws_record', 'in_live'), fakeWorld('auto'));
    world.set(dunningWorkflowId('ws_record', 'in_hub_void'), { ...fakeWorld('auto'), invoiceStatus: 'void' });
    world.set(dunningWorkflowId('ws_record', 'in_hub_live'), fakeWorld('auto'));
    const names = Object.keys(fakeActivities(fakeWorld('off'))) as (keyof ReturnType<typeof fakeActivities>)[];
    const activities = Object.fromEntries(
      names.map((name) => [
        name,
        (input: { workflowId?: string; draftId?: string }) => {
          if (name in outreachActivities && outreachOf(input)) return (outreachActivities[name as keyof typeof outreachActivities] as (i: unknown) => Promise<unknown>)(input);
          const id = input.workflowId ?? [...world.keys()].find((k) => input.draftId?.startsWith(`draft-${k}-`));
          const w = id ? world.get(id) : undefined;
          if (!w) throw new Error(`no stand-in state for ${JSON.stringify(input)}`);
          return (fakeActivities(w)[name] as (i: unknown) => Promise<unknown>)(input);
        },
      ]),
    );
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath: workflowsPath(), activities: { ...createPlayHubActivities({ client: env.client }), ...outreachActivities, ...activities, ...syncActivities } });
    await worker.runUntil(async () => {
      const history = await recording.record(env, taskQueue);
      const file = path.join(__dirname, recording.file);
      writeFileSync(file, `${historyToJSON(history)}\n`);
      console.log(`wrote ${file} (${history.events?.length} events)`);
    });
    await env.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
