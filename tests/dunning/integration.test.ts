import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type Stripe from 'stripe';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createDunningActivities } from '../../activities/dunning';
import { endpointOf, StripeClients } from '../../activities/stripe-client';
import { createStripeReader, workspaceStripeClients } from '../../activities/stripe-reader';
import { createApiToken } from '../../db/api-tokens';
import { findStepDraft, listDrafts, type Draft } from '../../db/drafts';
import { findDunningCase } from '../../db/dunning-cases';
import { invoiceSubscriptionId, mirroredDunningFacts } from '../../db/mirror';
import { listSends } from '../../db/sends';
import { insertWorkspace } from '../../db/workspaces';
import { createSendGridSender } from '../../email/sendgrid';
import { formatMoney } from '../../domain/templates';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startEmailReceiver, type EmailReceiver } from '../../sim/email-receiver';
import type { Simulator } from '../../sim/server';
import { createMirrorRefetch } from '../../workers/mirror-refetch';
import { InboxRelay } from '../../workers/relay';
import { createWorker } from '../../workers/worker';
import type { dunningWorkflow } from '../../workflows/dunning';
import { customerWorkflowId, dunningWorkflowId } from '../../workflows/ids';
import { dunningStateQuery, playSettingsChangedSignal } from '../../workflows/play-messages';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { customerOf, draftsOfInvoice } from './invoice-drafts';
import { signatureFor, stripeEvent } from '../helpers/stripe';
import { connectDevServer, eventually, uniqueTaskQueue, workflowBundle, type DevServer } from '../helpers/temporal';
import { simulatorReader, simulatorWithOpenInvoices } from '../email/play-fixtures';

/**
 * Dunning end to end on the real stack: signed Stripe webhooks into the API, the
 * inbox and relay in Postgres, the customer and dunning workflows on the Temporal dev
 * server with the real activities, Stripe played by the simulator and email received
 * by the local SendGrid-compatible receiver.
 */
describe('dunning end to end', () => {
  const keyring = parseKeyring(generateKeySpec());
  const log = pino({ level: 'silent' });
  const secret = 'whsec_dunning_e2e';
  const ws = 'ws_dunning_e2e';
  /** A webhook-only workspace: no Stripe key to read its invoices with. */
  const keyless = 'ws_dunning_keyless';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let temporal: DevServer;
  let worker: Worker;
  let running: Promise<void>;
  let relay: InboxRelay;
  let api: TestApi;
  let receiver: EmailReceiver;
  let sim: Simulator;
  let opens: Stripe.Invoice[];
  let owner: string;
  let member: string;

  beforeAll(async () => {
    database = await freshDatabase();
    receiver = await startEmailReceiver();
    ({ sim, opens } = await simulatorWithOpenInvoices(6));
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Acme Analytics', webhookSecret: secret, stripeKey: sim.accounts[0]!.restrictedKey });
    await insertWorkspace(database.db, keyring, { id: keyless, name: 'Webhooks Only', webhookSecret: secret });
    owner = (await createApiToken(database.db, { workspaceId: ws, role: 'owner', name: 'owner', createdBy: 'test' })).token;
    member = (await createApiToken(database.db, { workspaceId: ws, role: 'member', name: 'member', createdBy: 'test' })).token;
    const stripeClients = new StripeClients({ endpoint: endpointOf(sim.url), retry: { maxRetries: 0 } });

    temporal = await connectDevServer();
    const taskQueue = uniqueTaskQueue('dunning-e2e');
    const activities = createActivities({
      db: database.db,
      keyring,
      log,
      stripe: createStripeReader(workspaceStripeClients(database.db, keyring, stripeClients)),
      email: createSendGridSender({ apiKey: 'SG.e2e', baseUrl: receiver.url }),
    });
    worker = await createWorker({ connection: temporal.nativeConnection, client: temporal.client, namespace: 'default', taskQueue, overrides: { workflowBundle: await workflowBundle(), activities } });
    running = worker.run();
    relay = new InboxRelay({ db: database.db, databaseUrl: database.url, client: temporal.client, taskQueue, log, pollMs: 200, refetch: createMirrorRefetch({ db: database.db, keyring, stripe: stripeClients }) });
    relay.start();
    api = await startApi(database.db, keyring, { stripe: stripeClients });
    expect((await api.request('PUT', `/workspaces/${ws}/email-settings`, { token: owner, body: { fromEmail: 'billing@acme.test', fromName: 'Acme Billing' } })).status).toBe(200);
  });

  afterAll(async () => {
    for (const invoice of opens ?? []) {
      const customer = customerOf(invoice);
      await temporal?.client.workflow.getHandle(customerWorkflowId(ws, customer)).terminate('test done').catch(() => undefined);
      await temporal?.client.workflow.getHandle(dunningWorkflowId(ws, invoice.id)).terminate('test done').catch(() => undefined);
      await temporal?.client.workflow.getHandle(customerWorkflowId(keyless, customer)).terminate('test done').catch(() => undefined);
      await temporal?.client.workflow.getHandle(dunningWorkflowId(keyless, invoice.id)).terminate('test done').catch(() => undefined);
    }
    await api?.close();
    await relay?.stop();
    worker?.shutdown();
    await running;
    await temporal?.close();
    await receiver?.close();
    await sim?.stop();
    await database?.drop();
  });


  async function postEvent(type: string, object: Stripe.Invoice | Stripe.Subscription, workspace = ws): Promise<void> {
    const body = JSON.stringify(stripeEvent(type, { ...object }));
    const res = await fetch(`${api.url}/webhooks/stripe/${workspace}`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signatureFor(body, secret) }, body });
    expect(res.status).toBe(200);
  }

  const draftsOf = (invoice: Stripe.Invoice) => draftsOfInvoice(database.db, ws, invoice);
  const mailFor = (drafts: Draft[]) => receiver.messages.filter((m) => drafts.some((d) => m.idempotencyKey === `draft:${d.id}`));
  const setMode = async (mode: 'auto' | 'review') => expect((await api.request('PUT', `/workspaces/${ws}/plays/dunning/settings`, { token: owner, body: { mode } })).status).toBe(200);
  /** Fails the invoice's payment in review mode; returns its dunning once the step-0 draft waits for review. */
  async function waitingForReview(invoice: Stripe.Invoice) {
    await setMode('review');
    await postEvent('invoice.payment_failed', invoice);
    await eventually(() => draftsOf(invoice), (d) => d.length === 1 && d[0]!.status === 'drafted');
    const dunning = temporal.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(ws, invoice.id));
    await eventually(() => dunning.query(dunningStateQuery), (s) => s.phase === 'waiting_for_review');
    return dunning;
  }

  it('in auto mode a failed payment sends the day-0 email at once, and the payment stops the sequence', async () => {
    await setMode('auto');
    const invoice = opens[0]!;
    const customer = sim.account().customers.get(customerOf(invoice))!;
    // The product reported the customer's usage through the signals API; the email cites the last 30 days'.
    const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();
    const usage = [
      { type: 'usage', id: 'u1', customerId: customer.id, at: daysAgo(2), metric: 'reports_generated', quantity: 1000 },
      { type: 'usage', id: 'u2', customerId: customer.id, at: daysAgo(20), metric: 'reports_generated', quantity: 240 },
      { type: 'usage', id: 'u3', customerId: customer.id, at: daysAgo(45), metric: 'reports_generated', quantity: 5000 },
    ];
    expect((await api.request('POST', `/workspaces/${ws}/signals`, { token: member, body: { signals: usage } })).body).toMatchObject({ stored: 3 });
    await postEvent('invoice.payment_failed', invoice);

    const [mail] = await receiver.waitForMessages(1, 30_000).then(() => eventually(async () => mailFor(await draftsOf(invoice)), (m) => m.length === 1));
    expect(mail!.to).toEqual([customer.email]);
    expect(mail!.body.from).toEqual({ email: 'billing@acme.test', name: 'Acme Billing' });
    const text = mail!.body.content!.find((c) => c.type === 'text/plain')!.value;
    expect(text).toContain(formatMoney(invoice.amount_remaining, invoice.currency));
    expect(text).toContain(invoice.hosted_invoice_url!);
    expect(text).toContain('1,240 reports generated in the last 30 days');
    expect(mail!.subject).toMatch(/did not go through/);

    // Step 1 is drafted ahead (scheduled for day 3); the payment arrives before it.
    const drafts = await eventually(() => draftsOf(invoice), (d) => d.length === 2);
    expect(drafts.map((d) => [d.step, d.status])).toEqual([['step-0', 'sent'], ['step-1', 'scheduled']]);
    sim.account().payInvoice(sim.account().invoices.get(invoice.id)!, 'new_card');
    await postEvent('invoice.payment_succeeded', { ...invoice, status: 'paid' });

    const result = await temporal.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(ws, invoice.id)).result();
    expect(result).toEqual({ outcome: 'recovered', sentSteps: [0] });
    expect((await draftsOf(invoice)).map((d) => d.status)).toEqual(['sent', 'cancelled']);
    expect(mailFor(await draftsOf(invoice))).toHaveLength(1);
    expect(await findDunningCase(database.db, ws, invoice.id)).toMatchObject({ outcome: 'recovered', emailsSent: 1, lastStepSent: 0, stepsSent: [0], amountDue: invoice.amount_due });
  });

  it('in review mode exactly one email goes out per approved draft and none for a discarded one', async () => {
    await setMode('review');
    const invoice = opens[1]!;
    const before = receiver.messages.length;
    await postEvent('invoice.payment_failed', invoice);
    const [first] = await eventually(() => draftsOf(invoice), (d) => d.length === 1 && d[0]!.status === 'drafted');
    // Waiting for a person: nothing is sent.
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.messages.length).toBe(before);

    const approved = await api.request('POST', `/workspaces/${ws}/drafts/${first!.id}/approve`, { token: member });
    expect(approved.body).toMatchObject({ draft: { status: 'approved' }, workflowNotified: true });
    await eventually(async () => mailFor(await draftsOf(invoice)), (m) => m.length === 1);

    const drafts = await eventually(() => draftsOf(invoice), (d) => d.length === 2);
    expect(drafts[1]).toMatchObject({ step: 'step-1', status: 'drafted' });
    const discarded = await api.request('POST', `/workspaces/${ws}/drafts/${drafts[1]!.id}/discard`, { token: member, body: { endSequence: true } });
    expect(discarded.status).toBe(200);

    const result = await temporal.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(ws, invoice.id)).result();
    expect(result).toEqual({ outcome: 'discarded', sentSteps: [0] });
    const final = await draftsOf(invoice);
    expect(final.map((d) => d.status)).toEqual(['sent', 'discarded']);
    expect(mailFor(final).map((m) => m.idempotencyKey)).toEqual([`draft:${final[0]!.id}`]);
    expect((await listSends(database.db, ws)).filter((s) => final.some((d) => d.id === s.draftId)).map((s) => s.status)).toEqual(['sent']);
  });

  it('a mode change reaches a running workflow: a draft waiting for review goes out once the play is switched to auto', async () => {
    const invoice = opens[2]!;
    await waitingForReview(invoice);
    expect(mailFor(await draftsOf(invoice))).toHaveLength(0);

    // Visibility (the search attributes) may lag the start by a moment.
    const changed = await eventually(
      () => api.request('PUT', `/workspaces/${ws}/plays/dunning/settings`, { token: owner, body: { mode: 'auto' } }),
      (r) => (r.body as { workflowsNotified: number }).workflowsNotified >= 1,
    );
    expect(changed.status).toBe(200);
    const mail = await eventually(async () => mailFor(await draftsOf(invoice)), (m) => m.length === 1);
    expect(mail[0]!.idempotencyKey).toBe(`draft:${(await draftsOf(invoice))[0]!.id}`);
    // The provider's answer comes before the ledger's commit.
    await eventually(() => draftsOf(invoice), (d) => d[0]?.status === 'sent');
  });

  it("a subscription end delivered before its invoice's failure ends the dunning at its start, with nothing drafted", async () => {
    await setMode('auto');
    const invoice = opens[3]!;
    const subscription = sim.account().subscriptions.get(invoiceSubscriptionId(invoice)!)!;
    // The simulator's clock, ahead of the wall clock after its days of billing.
    const now = sim.account().now;
    // Stripe retried the failure's delivery after the end's: the end came first, when
    // the mirror held no unpaid invoice of the subscription, so it reached no workflow.
    // Stripe holds what the event says (the relay may ask it, should the event's order be in doubt).
    Object.assign(subscription, { status: 'canceled', canceled_at: now, ended_at: now });
    await postEvent('customer.subscription.deleted', subscription);
    await eventually(() => mirroredDunningFacts(database.db, ws, invoice.id, subscription.id), (f) => f.subscriptionStatus === 'canceled');
    await postEvent('invoice.payment_failed', invoice);

    const dunning = temporal.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(ws, invoice.id));
    // The relay starts it a moment after the acknowledgement.
    const result = await eventually(() => dunning.result(), () => true);
    expect(result).toEqual({ outcome: 'subscription_deleted', sentSteps: [] });
    expect(await draftsOf(invoice)).toEqual([]);
    expect(await findDunningCase(database.db, ws, invoice.id)).toMatchObject({ outcome: 'subscription_deleted', emailsSent: 0, lastStepSent: null, stepsSent: [] });
  });

  // Done in Stripe's dashboard, these send invoice.voided or invoice.paid: events
  // Wysera does not take, so no signal comes and the dunning's next check must see it.
  it.each([
    { change: 'voided', which: 4, outcome: 'invoice_closed', status: 'void', lastLook: null, act: (stored: Stripe.Invoice) => void (stored.status = 'void') },
    {
      change: 'marked paid out of band',
      which: 5,
      outcome: 'paid_out_of_band',
      status: 'paid',
      lastLook: 'paid_out_of_band',
      act: (stored: Stripe.Invoice) => sim.account().payInvoice(stored, 'out_of_band'),
    },
  ])('an invoice $change in Stripe while its draft waits for review ends the dunning at its next check as $outcome, and the mirror catches up', async ({ which, outcome, status, lastLook, act }) => {
    const invoice = opens[which]!;
    const dunning = await waitingForReview(invoice);
    const inboxBefore = await database.db('webhook_inbox').max<{ seq: number }[]>('seq as seq');
    expect((await mirroredDunningFacts(database.db, ws, invoice.id)).invoiceStatus).toBe('open');
    act(sim.account().invoices.get(invoice.id)!);
    // The next check: a settings change wakes the review at once (it polls every six
    // hours). Signalled here as the API does, not through its search, which may lag.
    await dunning.signal(playSettingsChangedSignal);

    expect(await dunning.result()).toEqual({ outcome, sentSteps: [] });
    expect((await draftsOf(invoice)).map((d) => d.status)).toEqual(['cancelled']);
    expect(mailFor(await draftsOf(invoice))).toEqual([]);
    expect(await findDunningCase(database.db, ws, invoice.id)).toMatchObject({ outcome, emailsSent: 0 });
    // No event came; the check queued one re-read of the invoice, which brings the mirror Stripe's status.
    const queued = await database.db('webhook_inbox').where('seq', '>', inboxBefore[0]!.seq).select<{ event_id: string }[]>('event_id', 'customer_id', 'object_id', 'payload');
    expect(queued).toEqual([
      { event_id: `reread_${invoice.id}_${status}`, customer_id: customerOf(invoice), object_id: invoice.id, payload: { object: 'invoice', id: invoice.id, noticed: 'dunning_check' } },
    ]);
    expect((await eventually(() => mirroredDunningFacts(database.db, ws, invoice.id), (f) => f.invoiceStatus !== 'open')).invoiceStatus).toBe(status);
    // The last look after the settling days counts only a payment.
    const acts = createDunningActivities({ db: database.db, stripe: simulatorReader(sim), log });
    expect(await acts.finalDunningCheck({ workspaceId: ws, customerId: customerOf(invoice), invoiceId: invoice.id, workflowId: dunning.workflowId })).toBe(lastLook);
  });

  it("the last look queues one re-read of an invoice the mirror holds in another status than Stripe's, in the workspace's mode", async () => {
    // A live-mode workspace whose mirror has never held the invoice (a webhook-only start, say).
    const live = 'ws_dunning_live_look';
    await insertWorkspace(database.db, keyring, { id: live, name: 'Live look', webhookSecret: secret, stripeKey: sim.accounts[0]!.restrictedKey, livemode: true });
    const invoice = opens[2]!;
    const status = sim.account().invoices.get(invoice.id)!.status!;
    const acts = createDunningActivities({ db: database.db, stripe: simulatorReader(sim), log });
    const ref = { workspaceId: live, customerId: customerOf(invoice), invoiceId: invoice.id, workflowId: `dunning:${live}:${invoice.id}` };
    await acts.finalDunningCheck(ref);
    await acts.finalDunningCheck(ref);
    const queued = await database.db('webhook_inbox').where({ workspace_id: live }).select<{ event_id: string }[]>('event_id', 'customer_id', 'livemode', 'payload');
    expect(queued).toEqual([{ event_id: `reread_${invoice.id}_${status}`, customer_id: customerOf(invoice), livemode: true, payload: { object: 'invoice', id: invoice.id, noticed: 'dunning_check' } }]);
  });

  it("a step's check during a Stripe outage asks Stripe once, then waits, when the step's draft is still to build", async () => {
    const invoice = opens[1]!;
    const acts = createDunningActivities({ db: database.db, stripe: simulatorReader(sim), log });
    const step = { index: 0, tone: 'friendly' as const, at: new Date().toISOString(), movedForRetry: false };
    const ref = { workspaceId: ws, customerId: customerOf(invoice), invoiceId: invoice.id, workflowId: `dunning:${ws}:outage-check` };
    const before = sim.requests().length;
    sim.setOutage({ mode: 'error' });
    try {
      // A second ask could wait for the rate limit again and outlast the activity's timeout.
      expect(await acts.prepareDunningStep({ ...ref, step, totalSteps: 5 })).toMatchObject({ kind: 'stripe_unavailable' });
      expect(sim.requests().slice(before).map((r) => r.path)).toEqual([`/v1/invoices/${invoice.id}`]);
    } finally {
      sim.clearOutage();
    }
    expect(await findStepDraft(database.db, ref.workflowId, 'step-0')).toBeUndefined();
  });

  it('in a workspace without a Stripe key a dunning waits for one instead of failing over and over, and a payment still ends it', async () => {
    const invoice = opens[0]!;
    await postEvent('invoice.payment_failed', invoice, keyless);
    const dunning = temporal.client.workflow.getHandle<typeof dunningWorkflow>(dunningWorkflowId(keyless, invoice.id));
    // It cannot read the invoice: it waits as for a Stripe outage (backing off to an hour), visibly.
    const waiting = await eventually(
      () => dunning.query(dunningStateQuery),
      (s) => s.phase === 'waiting_for_stripe',
    );
    expect(waiting.steps).toEqual([]);
    const history = await dunning.fetchHistory();
    expect((history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
    expect(await listDrafts(database.db, keyless, { play: 'dunning', limit: 100 })).toEqual([]);

    await postEvent('invoice.payment_succeeded', { ...invoice, status: 'paid' }, keyless);
    expect(await dunning.result()).toEqual({ outcome: 'recovered', sentSteps: [] });
  });
});
