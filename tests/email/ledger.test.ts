import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { createSendingActivities, type SendPrecondition } from '../../activities/sending';
import { verifyAuditChain, listAudit } from '../../db/audit';
import { findDraftById } from '../../db/drafts';
import { putEmailSettings } from '../../db/play-settings';
import { findSend, reserveSend, sendKeyOf } from '../../db/sends';
import { insertWorkspace } from '../../db/workspaces';
import { createSendGridSender } from '../../email/sendgrid';
import { createSesSender } from '../../email/ses';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createLogger } from '../../platform/logger';
import { startEmailReceiver, type EmailReceiver } from '../../sim/email-receiver';
import type { Simulator } from '../../sim/server';
import { freshDatabase } from '../helpers/db';
import { sendableDraft, simulatorReader, simulatorWithOpenInvoice } from './play-fixtures';

/**
 * The send ledger with real Postgres, the local SendGrid receiver and the Stripe
 * simulator: at most one email per draft, whatever fails and whenever.
 */
describe('sendDraft and the send ledger', () => {
  const ws = 'ws_ledger';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let receiver: EmailReceiver;
  let sim: Simulator;
  let open: Stripe.Invoice;
  let paid: Stripe.Invoice;
  let acts: ReturnType<typeof createSendingActivities>;

  beforeAll(async () => {
    database = await freshDatabase();
    receiver = await startEmailReceiver();
    ({ sim, open, paid } = await simulatorWithOpenInvoice());
    await insertWorkspace(database.db, parseKeyring(generateKeySpec()), { id: ws, name: 'Acme', webhookSecret: 'whsec_x' });
    await putEmailSettings(database.db, ws, { fromEmail: 'billing@acme.test', fromName: 'Acme Billing', replyTo: null }, 'user:test');
    acts = createSendingActivities({
      db: database.db,
      email: createSendGridSender({ apiKey: 'SG.test', baseUrl: receiver.url }),
      stripe: simulatorReader(sim),
      log: createLogger('silent', 'test'),
    });
  });

  afterAll(async () => {
    await receiver?.close();
    await sim?.stop();
    await database?.drop();
  });

  const sentTo = (key: string) => receiver.messages.filter((m) => m.idempotencyKey === key);
  const invoiceOpen = (invoice: Stripe.Invoice): SendPrecondition => ({ kind: 'invoice_open', workspaceId: ws, invoiceId: invoice.id });

  it('closes the ledger when a send is overtaken, so an attempt still running reserves nothing', async () => {
    const draft = await sendableDraft(database.db, ws);
    const overtaken: SendPrecondition = { ...invoiceOpen(open), nextStepAt: new Date(Date.now() - 60_000).toISOString() };
    expect((await acts.sendDraft({ draftId: draft.id, actor: 'system:test', precondition: overtaken })).kind).toBe('overtaken');
    expect((await findDraftById(database.db, draft.id))?.status).toBe('cancelled');
    // An earlier attempt, timed out and retried by Temporal but still running, reaches its reservation now.
    const key = sendKeyOf(draft.id);
    const late = await reserveSend(database.db, { workspaceId: ws, draftId: draft.id, idempotencyKey: key, provider: 'sendgrid', toAddress: draft.toAddress! });
    expect(late).toMatchObject({ existing: { status: 'failed' } });
    expect(sentTo(key)).toEqual([]);
  });

  it('never cancels an overtaken send an earlier attempt already holds', async () => {
    const draft = await sendableDraft(database.db, ws);
    const key = sendKeyOf(draft.id);
    // The earlier attempt reserved it and is calling the provider.
    await reserveSend(database.db, { workspaceId: ws, draftId: draft.id, idempotencyKey: key, provider: 'sendgrid', toAddress: draft.toAddress! });
    const overtaken: SendPrecondition = { ...invoiceOpen(open), nextStepAt: new Date(Date.now() - 60_000).toISOString() };
    expect((await acts.sendDraft({ draftId: draft.id, actor: 'system:test', precondition: overtaken })).kind).toBe('unconfirmed');
    expect((await findDraftById(database.db, draft.id))?.status).toBe('sent');
  });

  it('sends a draft once and records it; a second call sends nothing', async () => {
    const draft = await sendableDraft(database.db, ws);
    const first = await acts.sendDraft({ draftId: draft.id, actor: 'system:test', precondition: invoiceOpen(open) });
    expect(first.kind).toBe('sent');
    expect(await acts.sendDraft({ draftId: draft.id, actor: 'system:test' })).toEqual({ kind: 'already_sent' });
    const mail = sentTo(sendKeyOf(draft.id));
    expect(mail).toHaveLength(1);
    expect(mail[0]!.body.from).toEqual({ email: 'billing@acme.test', name: 'Acme Billing' });
    expect(await findSend(database.db, sendKeyOf(draft.id))).toMatchObject({ status: 'sent', providerMessageId: mail[0]!.messageId, attempts: 1 });
    expect((await findDraftById(database.db, draft.id))?.status).toBe('sent');
    const audit = await listAudit(database.db, ws, { targetId: draft.id });
    expect(audit.map((a) => a.action).reverse()).toEqual(['draft.created', 'draft.sent']);
    expect(await verifyAuditChain(database.db, ws)).toBeNull();
  });

  it('sends nothing when Stripe says the invoice is paid', async () => {
    const draft = await sendableDraft(database.db, ws);
    expect(await acts.sendDraft({ draftId: draft.id, actor: 'system:test', precondition: invoiceOpen(paid) })).toEqual({ kind: 'precondition_failed', invoiceStatus: 'paid', paidOffStripe: false });
    expect(sentTo(sendKeyOf(draft.id))).toHaveLength(0);
    expect(await findSend(database.db, sendKeyOf(draft.id))).toBeUndefined();
    // The mirror does not hold the invoice as paid: the check queued a re-read of it, once however often it runs.
    expect(await acts.sendDraft({ draftId: draft.id, actor: 'system:test', precondition: invoiceOpen(paid) })).toMatchObject({ kind: 'precondition_failed' });
    const queued = await database.db('webhook_inbox').where({ workspace_id: ws, object_id: paid.id }).select('event_id', 'customer_id', 'status', 'payload');
    expect(queued).toEqual([
      { event_id: `reread_${paid.id}_paid`, customer_id: paid.customer, status: 'pending', payload: { object: 'invoice', id: paid.id, noticed: 'dunning_check' } },
    ]);
  });

  it('waits while Stripe is failing: nothing is sent about a state it could not confirm', async () => {
    const draft = await sendableDraft(database.db, ws);
    sim.setOutage({ mode: 'error' });
    try {
      const outcome = await acts.sendDraft({ draftId: draft.id, actor: 'system:test', precondition: invoiceOpen(open) });
      expect(outcome.kind).toBe('stripe_unavailable');
    } finally {
      sim.clearOutage();
    }
    expect(sentTo(sendKeyOf(draft.id))).toHaveLength(0);
    expect((await acts.sendDraft({ draftId: draft.id, actor: 'system:test', precondition: invoiceOpen(open) })).kind).toBe('sent');
  });

  it('retries after 429 and 5xx (the provider took nothing) and then sends exactly once', async () => {
    const draft = await sendableDraft(database.db, ws);
    const key = sendKeyOf(draft.id);
    receiver.failNext(2, 429);
    for (let i = 0; i < 2; i++) {
      await expect(acts.sendDraft({ draftId: draft.id, actor: 'system:test' })).rejects.toMatchObject({ type: 'EmailProviderUnavailable', nonRetryable: false });
      expect(await findSend(database.db, key)).toMatchObject({ status: 'retry' });
    }
    receiver.failNext(1, 503);
    await expect(acts.sendDraft({ draftId: draft.id, actor: 'system:test' })).rejects.toMatchObject({ type: 'EmailProviderUnavailable' });
    expect((await acts.sendDraft({ draftId: draft.id, actor: 'system:test' })).kind).toBe('sent');
    expect(sentTo(key)).toHaveLength(1);
    expect(await findSend(database.db, key)).toMatchObject({ status: 'sent', attempts: 4 });
  });

  it('retries a refusal of the sender that may pass where the play cannot wait for one, and waits it out where it can', async () => {
    // SES without credentials to sign with (its chain found none, as while an instance's role is fetched).
    const none = () => Promise.reject(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    const unsigned = createSendingActivities({ db: database.db, email: createSesSender({ region: 'eu-west-1', endpoint: receiver.url, credentials: none }), stripe: simulatorReader(sim), log: createLogger('silent', 'test') });
    const dunning = await sendableDraft(database.db, ws);
    await expect(unsigned.sendDraft({ draftId: dunning.id, actor: 'system:test' })).rejects.toMatchObject({ type: 'EmailProviderUnavailable', nonRetryable: false });
    // Stamped as a refusal of the sender: the Emails page shows the dunning held too.
    expect(await findSend(database.db, sendKeyOf(dunning.id))).toMatchObject({ status: 'retry', senderRefusedAt: expect.any(Date) as unknown });
    expect((await findDraftById(database.db, dunning.id))?.status).toBe('scheduled');
    const save = await sendableDraft(database.db, ws);
    expect(await unsigned.sendDraft({ draftId: save.id, actor: 'system:test', waitForSender: true })).toMatchObject({ kind: 'no_sender', error: expect.stringContaining('no AWS credentials') as unknown });
    expect(await findSend(database.db, sendKeyOf(save.id))).toMatchObject({ status: 'retry' });
    // Once the sender works, both go out.
    for (const d of [dunning, save]) expect((await acts.sendDraft({ draftId: d.id, actor: 'system:test', waitForSender: true })).kind).toBe('sent');
  });

  it("records a rejected message as failed with the provider's message, and never retries it", async () => {
    const draft = await sendableDraft(database.db, ws, { to: 'not-an-address' });
    const outcome = await acts.sendDraft({ draftId: draft.id, actor: 'system:test' });
    expect(outcome).toMatchObject({ kind: 'failed' });
    expect(outcome.kind === 'failed' && outcome.error).toMatch(/SendGrid 400: personalizations\.0\.to\.0\.email/);
    expect((await findDraftById(database.db, draft.id))?.status).toBe('failed');
    expect(await findSend(database.db, sendKeyOf(draft.id))).toMatchObject({ status: 'failed' });
    expect(await acts.sendDraft({ draftId: draft.id, actor: 'system:test' })).toEqual({ kind: 'not_sendable', status: 'failed' });
  });

  it('does not send a draft still waiting for review, nor a discarded one', async () => {
    const draft = await sendableDraft(database.db, ws, { status: 'drafted' });
    expect(await acts.sendDraft({ draftId: draft.id, actor: 'system:test' })).toEqual({ kind: 'not_sendable', status: 'drafted' });
    expect(sentTo(sendKeyOf(draft.id))).toHaveLength(0);
  });

  it('never sends twice when the sending process dies after the provider accepted the message', async () => {
    const draft = await sendableDraft(database.db, ws);
    const key = sendKeyOf(draft.id);
    // The receiver takes the message but holds its answer: the sender is killed before it hears back.
    receiver.holdResponses(30_000);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'send-in-child.ts')], {
      env: { ...process.env, DATABASE_URL: database.url, RECEIVER_URL: receiver.url, DRAFT_ID: draft.id },
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      await receiver.waitForMessages(receiver.messages.length + 1, 30_000);
      expect(sentTo(key)).toHaveLength(1);
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
    } finally {
      receiver.holdResponses(0);
    }
    // The ledger shows the reservation the dead process committed before calling the provider.
    expect(await findSend(database.db, key)).toMatchObject({ status: 'sending' });
    // The retry (Temporal would run it on another worker) finds it and does not send again.
    expect(await acts.sendDraft({ draftId: draft.id, actor: 'system:test' })).toEqual({ kind: 'unconfirmed' });
    expect(await acts.sendDraft({ draftId: draft.id, actor: 'system:test' })).toEqual({ kind: 'already_sent' });
    expect(sentTo(key)).toHaveLength(1);
    expect(await findSend(database.db, key)).toMatchObject({ status: 'unconfirmed' });
    expect((await findDraftById(database.db, draft.id))?.status).toBe('sent');
  });
});
