import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type Stripe from 'stripe';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { OVERTAKEN_REASON, createSendingActivities } from '../../activities/sending';
import { endpointOf, StripeClients } from '../../activities/stripe-client';
import { createStripeReader, workspaceStripeClients } from '../../activities/stripe-reader';
import { createApiToken } from '../../db/api-tokens';
import { findDraftById, type Draft } from '../../db/drafts';
import { findSend, reserveSend, senderHold, sendKeyOf } from '../../db/sends';
import { insertWorkspace } from '../../db/workspaces';
import { createSesSender } from '../../email/ses';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startEmailReceiver, type EmailReceiver } from '../../sim/email-receiver';
import type { Simulator } from '../../sim/server';
import { createWorker } from '../../workers/worker';
import { AFTER_STALL_PATCH, type dunningWorkflow } from '../../workflows/dunning';
import { dunningWorkflowId } from '../../workflows/ids';
import { dunningStateQuery } from '../../workflows/play-messages';
import { simulatorReader, simulatorWithOpenInvoices, sendableDraft } from '../email/play-fixtures';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { customerOf, draftsOfInvoice } from './invoice-drafts';
import { connectDevServer, eventually, patchIds, uniqueTaskQueue, workflowBundle, type DevServer } from '../helpers/temporal';

const DAY = 86_400_000;
const HOUR = 3_600_000;

/**
 * Dunning whose sends were held up, on the real stack: the dunning workflow on the
 * Temporal dev server with the real activities, Stripe played by the simulator and
 * email sent through SES's client to the local receiver, with an AWS credential chain
 * that finds nothing while the test says so (as while an instance's role is fetched):
 * a refusal of the sender that a dunning's send retries. Failures are dated in the
 * past so that a step falls due within the test.
 */
describe('dunning after a send held up', () => {
  const keyring = parseKeyring(generateKeySpec());
  const log = pino({ level: 'silent' });
  const ws = 'ws_dunning_stall';
  const KEY = { accessKeyId: 'AKIASTALLTEST0000001', secretAccessKey: 'stall-secret' };
  let credentialsFound = true;
  // What the SDK's credential chain raises when it finds none (@smithy/property-provider's CredentialsProviderError).
  const credentials = () =>
    credentialsFound ? Promise.resolve(KEY) : Promise.reject(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let temporal: DevServer;
  let worker: Worker;
  let running: Promise<void>;
  let taskQueue: string;
  let api: TestApi;
  let receiver: EmailReceiver;
  let sim: Simulator;
  let opens: Stripe.Invoice[];
  let owner: string;

  beforeAll(async () => {
    database = await freshDatabase();
    receiver = await startEmailReceiver();
    ({ sim, opens } = await simulatorWithOpenInvoices(4));
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Acme Analytics', webhookSecret: 'whsec_stall', stripeKey: sim.accounts[0]!.restrictedKey });
    owner = (await createApiToken(database.db, { workspaceId: ws, role: 'owner', name: 'owner', createdBy: 'test' })).token;
    const stripeClients = new StripeClients({ endpoint: endpointOf(sim.url), retry: { maxRetries: 0 } });
    temporal = await connectDevServer();
    taskQueue = uniqueTaskQueue('dunning-stall');
    const activities = createActivities({
      db: database.db,
      keyring,
      log,
      stripe: createStripeReader(workspaceStripeClients(database.db, keyring, stripeClients)),
      email: createSesSender({ region: 'eu-west-1', endpoint: receiver.url, credentials }),
    });
    worker = await createWorker({ connection: temporal.nativeConnection, client: temporal.client, namespace: 'default', taskQueue, overrides: { workflowBundle: await workflowBundle(), activities } });
    running = worker.run();
    api = await startApi(database.db, keyring, { stripe: stripeClients });
    expect((await api.request('PUT', `/workspaces/${ws}/email-settings`, { token: owner, body: { fromEmail: 'billing@acme.test', fromName: 'Acme Billing' } })).status).toBe(200);
  });

  afterAll(async () => {
    for (const invoice of opens ?? []) await temporal?.client.workflow.getHandle(dunningWorkflowId(ws, invoice.id)).terminate('test done').catch(() => undefined);
    await api?.close();
    worker?.shutdown();
    await running;
    await temporal?.close();
    await receiver?.close();
    await sim?.stop();
    await database?.drop();
  });

  const draftsOf = (invoice: Stripe.Invoice) => draftsOfInvoice(database.db, ws, invoice);
  const mailFor = (drafts: Draft[]) => receiver.sesMessages.filter((m) => drafts.some((d) => m.idempotencyKey === sendKeyOf(d.id)));
  /** Auto mode with emails on `days`, none moved for a Stripe retry (the simulator's retries fall anywhere). */
  const schedule = async (days: number[]) => {
    const tones = ['friendly', 'helpful', 'firm', 'urgent', 'final'] as const;
    const config = { steps: days.map((day, i) => ({ day, tone: tones[i]! })), quietHoursBeforeRetry: 0, hoursAfterRetry: 0 };
    expect((await api.request('PUT', `/workspaces/${ws}/plays/dunning/settings`, { token: owner, body: { mode: 'auto', config } })).status).toBe(200);
  };
  /** Starts the invoice's dunning as the customer workflow would, for a payment that failed at `failedAt`. */
  const startDunning = (invoice: Stripe.Invoice, failedAt: number) =>
    temporal.client.workflow.start<typeof dunningWorkflow>('dunningWorkflow', {
      taskQueue,
      workflowId: dunningWorkflowId(ws, invoice.id),
      args: [{ workspaceId: ws, customerId: customerOf(invoice), invoiceId: invoice.id, failedAt: new Date(failedAt).toISOString() }],
    });

  it("a send held past the next step's time is cancelled as overtaken and that step goes instead", async () => {
    await schedule([0, 1, 2]);
    const invoice = opens[0]!;
    // Email 1 is due at once, email 2 in 20 seconds, email 3 a day later.
    const failedAt = Date.now() - DAY + 20_000;
    credentialsFound = false;
    const dunning = await startDunning(invoice, failedAt);
    // SES finds no credentials: email 1 is refused, held (the Emails page says so) and retried.
    const [first] = await eventually(() => draftsOf(invoice), (d) => d.length === 1);
    expect(await eventually(() => findSend(database.db, sendKeyOf(first!.id)), (s) => s?.status === 'retry')).toMatchObject({ senderRefusedAt: expect.any(Date) as unknown });
    expect(await senderHold(database.db, ws)).toMatchObject({ drafts: 1 });
    // Email 2's time comes while email 1 is held; then the credentials are found again.
    await eventually(() => Promise.resolve(Date.now()), (now) => now > failedAt + DAY, 60_000);
    credentialsFound = true;

    // The next attempt finds email 2 due: email 1 is cancelled, email 2 goes, email 3 is drafted ahead.
    const drafts = await eventually(() => draftsOf(invoice), (d) => d.length === 3, 120_000);
    expect(drafts.map((d) => [d.step, d.status])).toEqual([
      ['step-0', 'cancelled'],
      ['step-1', 'sent'],
      ['step-2', 'scheduled'],
    ]);
    const cancelled = await database.db('audit_log').where({ target_type: 'draft', target_id: first!.id, action: 'draft.cancelled' }).first<{ actor: string; after: { reason?: string } }>();
    expect(cancelled).toMatchObject({ actor: 'system:dunning', after: { reason: OVERTAKEN_REASON } });
    expect(mailFor(drafts).map((m) => m.idempotencyKey)).toEqual([sendKeyOf(drafts[1]!.id)]);
    // Nothing is held any more: the held email will never go.
    expect(await senderHold(database.db, ws)).toBeNull();

    // Email 2 went within minutes of its time: email 3 (day 2) keeps its own.
    expect(drafts[2]!.scheduledFor!.toISOString()).toBe(new Date(failedAt + 2 * DAY).toISOString());
    expect(await dunning.query(dunningStateQuery)).toMatchObject({ phase: 'waiting_for_step', stepIndex: 2, sentSteps: [1] });
  });

  it('after an email that went out late the next one waits a day after it rather than following hours later', async () => {
    await schedule([0, 1, 5]);
    const invoice = opens[1]!;
    // Begun 20 hours after the failure: email 1 goes now, email 2 would be due 4 hours later.
    const failedAt = Date.now() - 20 * HOUR;
    const dunning = await startDunning(invoice, failedAt);
    const drafts = await eventually(() => draftsOf(invoice), (d) => d.length === 2);
    expect(drafts.map((d) => [d.step, d.status])).toEqual([
      ['step-0', 'sent'],
      ['step-1', 'scheduled'],
    ]);
    const first = await findSend(database.db, sendKeyOf(drafts[0]!.id));
    const second = drafts[1]!.scheduledFor!.getTime();
    expect(second).toBeGreaterThanOrEqual(first!.finishedAt!.getTime() + DAY);
    expect(second).toBeGreaterThan(failedAt + DAY);
    // Email 3 (day 5) is far enough from it: its time is unchanged.
    const state = await dunning.query(dunningStateQuery);
    expect(state.steps.map((s) => s.at)).toEqual([new Date(failedAt).toISOString(), drafts[1]!.scheduledFor!.toISOString(), new Date(failedAt + 5 * DAY).toISOString()]);
    expect(patchIds(await dunning.fetchHistory())).toContain(AFTER_STALL_PATCH);
  });

  it('a dunning whose emails go out on time keeps its schedule and records none of the changes made for a stall', async () => {
    await schedule([0, 3, 7, 14, 16]);
    const invoice = opens[2]!;
    const failedAt = Date.now();
    const dunning = await startDunning(invoice, failedAt);
    const drafts = await eventually(() => draftsOf(invoice), (d) => d.length === 2);
    expect(drafts.map((d) => [d.step, d.status])).toEqual([
      ['step-0', 'sent'],
      ['step-1', 'scheduled'],
    ]);
    expect(drafts[1]!.scheduledFor!.toISOString()).toBe(new Date(failedAt + 3 * DAY).toISOString());
    const state = await dunning.query(dunningStateQuery);
    expect(state.steps.map((s) => (Date.parse(s.at) - failedAt) / DAY)).toEqual([0, 3, 7, 14, 16]);
    expect(patchIds(await dunning.fetchHistory())).not.toContain(AFTER_STALL_PATCH);
  });

  it('a send asked once the next step is due cancels the draft without calling the provider, unless an earlier attempt may have sent it', async () => {
    const sending = createSendingActivities({ db: database.db, email: createSesSender({ region: 'eu-west-1', endpoint: receiver.url, credentials: KEY }), stripe: simulatorReader(sim), log });
    const invoice = opens[3]!;
    const precondition = (nextStepAt: number) => ({ kind: 'invoice_open' as const, workspaceId: ws, invoiceId: invoice.id, nextStepAt: new Date(nextStepAt).toISOString() });
    const before = receiver.sesMessages.length;

    const overtaken = await sendableDraft(database.db, ws);
    const due = precondition(Date.now() - 1000);
    expect(await sending.sendDraft({ draftId: overtaken.id, actor: 'system:dunning', precondition: due })).toEqual({ kind: 'overtaken', nextStepAt: due.nextStepAt });
    expect((await findDraftById(database.db, overtaken.id))?.status).toBe('cancelled');
    // Its ledger row is closed with the cancel, so no attempt still running can reserve it.
    expect(await findSend(database.db, sendKeyOf(overtaken.id))).toMatchObject({ status: 'failed', error: OVERTAKEN_REASON });

    // An attempt that stopped after calling the provider: the email may have gone, so it is settled as such, never cancelled.
    const mayHaveGone = await sendableDraft(database.db, ws);
    await reserveSend(database.db, { workspaceId: ws, draftId: mayHaveGone.id, idempotencyKey: sendKeyOf(mayHaveGone.id), provider: 'ses', toAddress: mayHaveGone.toAddress! });
    expect(await sending.sendDraft({ draftId: mayHaveGone.id, actor: 'system:dunning', precondition: precondition(Date.now() - 1000) })).toEqual({ kind: 'unconfirmed' });
    expect((await findDraftById(database.db, mayHaveGone.id))?.status).toBe('sent');

    // Before the next step's time it goes.
    const onTime = await sendableDraft(database.db, ws);
    expect(await sending.sendDraft({ draftId: onTime.id, actor: 'system:dunning', precondition: precondition(Date.now() + HOUR) })).toMatchObject({ kind: 'sent' });
    expect(receiver.sesMessages.slice(before).map((m) => m.idempotencyKey)).toEqual([sendKeyOf(onTime.id)]);
  });
});
