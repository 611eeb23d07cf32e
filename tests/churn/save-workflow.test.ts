import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type Stripe from 'stripe';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { StripeClients } from '../../activities/stripe-client';
import { createStripeReader, workspaceStripeClients } from '../../activities/stripe-reader';
import { seedMirror } from '../../db/analytics-seed';
import { churnRisks } from '../../db/churn-risk';
import { findChurnSave, openChurnSaves } from '../../db/churn-saves';
import { findStepDraft } from '../../db/drafts';
import { openDunningCase } from '../../db/dunning-cases';
import { upsertCustomers } from '../../db/mirror';
import { putEmailSettings, putPlaySettings } from '../../db/play-settings';
import { storeProductSignals } from '../../db/product-signals';
import { insertWorkspace } from '../../db/workspaces';
import { createSendGridSender } from '../../email/sendgrid';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startEmailReceiver, type EmailReceiver } from '../../sim/email-receiver';
import { createWorker } from '../../workers/worker';
import type { churnSaveWorkflow } from '../../workflows/churn-save';
import { churnSaveStateQuery, playSettingsChangedSignal } from '../../workflows/play-messages';
import { CustomerBuilder } from '../domain/mrr-builder';
import { freshDatabase } from '../helpers/db';
import { stripeFixture } from '../helpers/stripe';
import { eventually, timeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';
import { seedAtRisk } from './fixtures';

/**
 * A churn save's waits on the time-skipping server, with the real activities over a
 * real Postgres and the local email receiver: days pass in moments, so the review
 * window's end and the polls while it waits can be shown.
 */
describe('churnSaveWorkflow (time-skipping test server)', () => {
  const keyring = parseKeyring(generateKeySpec());
  const ws = 'ws_save_wait';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let receiver: EmailReceiver;
  const taskQueue = uniqueTaskQueue('churn-save');

  beforeAll(async () => {
    database = await freshDatabase();
    receiver = await startEmailReceiver();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Acme Analytics', webhookSecret: 'whsec_wait' });
    await seedAtRisk(database.db, keyring, ws);
    await putEmailSettings(database.db, ws, { fromEmail: 'success@acme.test', fromName: null, replyTo: null }, 'test');
    env = await timeSkippingEnv();
    const activities = createActivities({
      db: database.db,
      keyring,
      log: pino({ level: 'silent' }),
      stripe: createStripeReader(workspaceStripeClients(database.db, keyring, new StripeClients())),
      email: createSendGridSender({ apiKey: 'SG.wait', baseUrl: receiver.url }),
    });
    worker = await createWorker({ connection: env.nativeConnection, client: env.client, namespace: env.namespace ?? 'default', taskQueue, overrides: { workflowBundle: await workflowBundle(), activities } });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
    await receiver?.close();
    await database?.drop();
  });

  const setMode = (mode: 'review' | 'auto', autoPercentage: number | null = null) => putPlaySettings(database.db, ws, 'churn', { rollout: { mode, autoPercentage }, config: {} }, 'test');

  /** A customer on Growth at $99 a month whose subscription is set to end in 20 days (risk 50: a call). */
  async function addLeaving(id: string, name: string, email: string): Promise<void> {
    const { db } = database;
    await seedMirror(db, ws, [
      new CustomerBuilder(id)
        .price('price_growth_m', 9_900, 'month')
        .subscription(`sub_${id}`, { items: ['price_growth_m'], cancel_at_period_end: true, current_period_end: new Date(Date.now() + 20 * 86_400_000) })
        .build(),
    ]);
    await upsertCustomers(db, ws, [{ ...stripeFixture('customer'), id, name, email } as unknown as Stripe.Customer], new Date(), keyring);
  }

  /** Opens a save for the customer as the radar would, and starts its workflow; resolves once its draft is written. */
  async function startSave(customerId: string, opts: { drafted?: boolean } = {}) {
    const risk = (await churnRisks(database.db, ws, new Date(), [customerId])).get(customerId)!;
    const [save] = await openChurnSaves(database.db, ws, [{ customerId, score: risk.score, reasons: risk.reasons }], { threshold: 50, cooldownDays: 30, now: new Date() });
    const handle = await env.client.workflow.start<typeof churnSaveWorkflow>('churnSaveWorkflow', {
      taskQueue,
      workflowId: save!.workflowId,
      args: [{ workspaceId: ws, customerId, saveId: save!.id, workflowId: save!.workflowId }],
    });
    const draft = () => findStepDraft(database.db, save!.workflowId, 'save');
    if (opts.drafted !== false) await eventually(draft, Boolean, 30_000);
    return { save: save!, handle, draft };
  }

  it('gives up on a draft nobody reviewed within seven days, and cancels it', async () => {
    await setMode('review');
    const { save, handle, draft } = await startSave('cus_leaving');
    expect((await draft())!.status).toBe('drafted');
    const started = await env.currentTimeMs();
    expect(await handle.result()).toBe('expired');
    expect((await env.currentTimeMs()) - started).toBeGreaterThanOrEqual(7 * 86_400_000);
    expect((await draft())!.status).toBe('cancelled');
    expect(await findChurnSave(database.db, save.id)).toMatchObject({ outcome: 'expired', intervention: 'downgrade' });
  });

  it('sees a change to auto at its next look, with no signal, and sends', async () => {
    await setMode('review');
    const { save, handle, draft } = await startSave('cus_troubled');
    // Stored without telling the workflow: the poll every six hours finds it, long before the window ends.
    await setMode('auto');
    expect(await handle.result()).toBe('sent');
    // The send was scheduled at the first poll (the server skips time through the send itself, so that is what is timed).
    const events = (await handle.fetchHistory()).events ?? [];
    const at = (e: (typeof events)[number] | undefined) => Number(e?.eventTime?.seconds ?? 0) * 1000;
    const send = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendDraft');
    expect(at(send) - at(events[0])).toBeGreaterThanOrEqual(6 * 3_600_000);
    expect(at(send) - at(events[0])).toBeLessThanOrEqual(6 * 3_600_000 + 60_000);
    const sent = (await draft())!;
    expect(sent.status).toBe('sent');
    expect(receiver.messages.filter((m) => m.idempotencyKey === `draft:${sent.id}`)).toHaveLength(1);
    expect((await findChurnSave(database.db, save.id))!.outcome).toBe('sent');
  });

  it("offers the next plan down at its price in the customer's own currency", async () => {
    const { db } = database;
    // A euro customer on Growth, leaving; the mapping ranks the plans by their dollar prices.
    await seedMirror(db, ws, [
      new CustomerBuilder('cus_euro')
        .price('price_growth_eur', 9000, 'month', { currency: 'eur' })
        .subscription('sub_cus_euro', { items: ['price_growth_eur'], currency: 'eur', cancel_at_period_end: true, current_period_end: new Date(Date.now() + 20 * 86_400_000) })
        .build(),
    ]);
    await db('stripe_prices').where({ workspace_id: ws, id: 'price_growth_eur' }).update({ product_id: 'prod_price_growth' });
    await db('stripe_prices').insert({ workspace_id: ws, id: 'price_starter_eur', product_id: 'prod_price_starter', currency: 'eur', unit_amount: 2500, type: 'recurring', recurring_interval: 'month', recurring_interval_count: 1, active: true, stripe_state_at: new Date() });
    await upsertCustomers(db, ws, [{ ...stripeFixture('customer'), id: 'cus_euro', name: 'Eva Euro', email: 'eva@example.eu' } as unknown as Stripe.Customer], new Date(), keyring);
    await setMode('auto');
    const { handle, draft } = await startSave('cus_euro');
    expect(await handle.result()).toBe('sent');
    const sent = (await draft())!;
    expect(sent.templateKey).toBe('downgrade');
    expect(sent.bodyText).toContain('Starter costs €25.00 per month instead of €90.00');
  });

  it('prices the next plan down per year for three seats when that is how the customer pays', async () => {
    const { db } = database;
    await seedMirror(db, ws, [
      new CustomerBuilder('cus_annual')
        .price('price_growth_year', 99_000, 'year')
        .subscription('sub_cus_annual', { items: ['price_growth_year'], cancel_at_period_end: true, current_period_end: new Date(Date.now() + 20 * 86_400_000) })
        .build(),
    ]);
    await db('stripe_subscription_items').where({ workspace_id: ws, subscription_id: 'sub_cus_annual' }).update({ quantity: 3 });
    await db('stripe_prices').where({ workspace_id: ws, id: 'price_growth_year' }).update({ product_id: 'prod_price_growth' });
    await db('stripe_prices').insert({ workspace_id: ws, id: 'price_starter_year', product_id: 'prod_price_starter', currency: 'usd', unit_amount: 29_000, type: 'recurring', recurring_interval: 'year', recurring_interval_count: 1, active: true, stripe_state_at: new Date() });
    await upsertCustomers(db, ws, [{ ...stripeFixture('customer'), id: 'cus_annual', name: 'Ann Annual', email: 'ann@example.com' } as unknown as Stripe.Customer], new Date(), keyring);
    await setMode('auto');
    const { handle, draft } = await startSave('cus_annual');
    expect(await handle.result()).toBe('sent');
    // Not Starter's monthly $29 against three seats of Growth: the yearly price of three seats of each.
    expect((await draft())!.bodyText).toContain('Starter costs $870.00 per year instead of $2,970.00');
  });

  it('keeps in review the customers an auto rollout for a share leaves out', async () => {
    // Auto for 0% of customers: every one of them is in review, and waits for a person.
    await setMode('auto', 0);
    const { handle, draft } = await startSave('cus_drifting');
    expect((await draft())!.status).toBe('drafted');
    expect((await handle.query(churnSaveStateQuery)).phase).toBe('waiting_for_review');
    // Turned off, it ends there, and the customer may have a save again.
    await putPlaySettings(database.db, ws, 'churn', { rollout: { mode: 'off', autoPercentage: null }, config: {} }, 'test');
    await handle.signal(playSettingsChangedSignal);
    expect(await handle.result()).toBe('off');
  });

  it('stops when a dunning begins while the draft waits: that play writes to them now', async () => {
    await setMode('review');
    await database.db('dunning_cases').where({ workspace_id: ws, customer_id: 'cus_failing' }).update({ outcome: 'recovered', ended_at: new Date() });
    const { save, handle, draft } = await startSave('cus_failing');
    await openDunningCase(database.db, { workspaceId: ws, invoiceId: 'in_failing_again', customerId: 'cus_failing', workflowId: `dunning:${ws}:in_failing_again`, currency: 'usd', amountDue: 9900, failedAt: new Date() });
    const started = await env.currentTimeMs();
    expect(await handle.result()).toBe('in_dunning');
    expect((await env.currentTimeMs()) - started).toBeLessThanOrEqual(7 * 3_600_000);
    expect((await draft())!.status).toBe('cancelled');
    expect((await findChurnSave(database.db, save.id))!.outcome).toBe('in_dunning');
  });

  it('drafts nothing for a customer Stripe has no email address for', async () => {
    await setMode('review');
    await database.db('stripe_customers').where({ workspace_id: ws, id: 'cus_calm' }).update({ email: null });
    await database.db('nps_responses').insert({ workspace_id: ws, customer_id: 'cus_calm', score: 0, at: new Date() });
    await database.db('stripe_subscriptions').where({ workspace_id: ws, customer_id: 'cus_calm' }).update({ cancel_at_period_end: true });
    const { save, handle, draft } = await startSave('cus_calm', { drafted: false });
    expect(await handle.result()).toBe('no_email');
    expect(await draft()).toBeUndefined();
    expect((await findChurnSave(database.db, save.id))!.outcome).toBe('no_email');
  });

  it('stops when the customer leaves while the draft waits', async () => {
    await setMode('review');
    const { save, handle, draft } = await startSave('cus_drifting');
    await database.db('stripe_subscriptions').where({ workspace_id: ws, customer_id: 'cus_drifting' }).update({ status: 'canceled', ended_at: new Date() });
    const started = await env.currentTimeMs();
    expect(await handle.result()).toBe('churned');
    expect((await env.currentTimeMs()) - started).toBeLessThanOrEqual(7 * 3_600_000);
    expect((await draft())!.status).toBe('cancelled');
    expect((await findChurnSave(database.db, save.id))!.outcome).toBe('churned');
  });

  it('waits for a sender in auto mode until the draft would be stale, then ends without a cooldown', async () => {
    const { db } = database;
    await addLeaving('cus_unsent', 'Una Unsent', 'una@example.com');
    const sender = await db('email_settings').where({ workspace_id: ws }).first<{ from_email: string }>('from_email');
    await db('email_settings').where({ workspace_id: ws }).delete();
    try {
      await setMode('auto');
      const { save, handle, draft } = await startSave('cus_unsent');
      const started = await env.currentTimeMs();
      expect(await handle.result()).toBe('no_sender');
      // The review window's seven days, as a reviewer would have had; never sent, never failed.
      expect((await env.currentTimeMs()) - started).toBeGreaterThanOrEqual(7 * 86_400_000);
      expect((await draft())!.status).toBe('cancelled');
      expect(receiver.messages.some((m) => m.to.includes('una@example.com'))).toBe(false);
      expect((await findChurnSave(db, save.id))!.outcome).toBe('no_sender');
      // Not the customer's doing: the radar may open a save for them again at once.
      const risk = (await churnRisks(db, ws, new Date(), ['cus_unsent'])).get('cus_unsent')!;
      expect(await openChurnSaves(db, ws, [{ customerId: 'cus_unsent', score: risk.score, reasons: risk.reasons }], { threshold: 50, cooldownDays: 30, now: new Date() })).toHaveLength(1);
    } finally {
      await putEmailSettings(db, ws, { fromEmail: sender.from_email, fromName: null, replyTo: null }, 'test');
    }
  });

  it('ends a waiting save whose reasons came to call for another offer, and the radar may draft it again at once', async () => {
    const { db } = database;
    // Set to cancel, nothing else: a call. Two urgent tickets later, trouble: credits.
    await addLeaving('cus_switch', 'Sam Switch', 'sam@example.com');
    await setMode('review');
    const { save, handle, draft } = await startSave('cus_switch');
    expect((await draft())!.templateKey).toBe('success_call');
    await storeProductSignals(db, ws, ['T-s1', 'T-s2'].map((id) => ({ type: 'ticket' as const, id, customerId: 'cus_switch', at: new Date(), ticket: id, status: 'opened' as const, priority: 'urgent' as const })));
    await handle.signal(playSettingsChangedSignal);
    expect(await handle.result()).toBe('reoffered');
    expect((await draft())!.status).toBe('cancelled');
    expect((await findChurnSave(db, save.id))!.outcome).toBe('reoffered');
    // Not a cooldown: the next look drafts the offer that fits now.
    const again = await startSave('cus_switch');
    expect((await again.draft())!.templateKey).toBe('credits');
    // The tickets solved, a call would fit again; but one redraft a review window is the most: this one waits on.
    await storeProductSignals(db, ws, ['T-s1', 'T-s2'].map((id) => ({ type: 'ticket' as const, id: `${id}-solved`, customerId: 'cus_switch', at: new Date(), ticket: id, status: 'solved' as const })));
    await again.handle.signal(playSettingsChangedSignal);
    await env.sleep('1 hour');
    expect((await again.handle.query(churnSaveStateQuery)).phase).toBe('waiting_for_review');
    expect((await again.draft())!.status).toBe('drafted');
    await putPlaySettings(db, ws, 'churn', { rollout: { mode: 'off', autoPercentage: null }, config: {} }, 'test');
    await again.handle.signal(playSettingsChangedSignal);
    expect(await again.handle.result()).toBe('off');
  });
});
