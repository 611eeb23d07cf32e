import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { createStripeReader, stripeHostOptions, type StripeReader } from '../../activities/stripe-reader';
import { createDraftOnce, type Draft } from '../../db/drafts';
import type { Knex } from '../../db/knex';
import { startSimulator, type Simulator } from '../../sim/server';

/**
 * A simulator whose generated history has run until at least `count` invoices of
 * different customers are open after a failed payment, with Stripe's next retry more
 * than a day away (so no step is held back for an imminent retry).
 */
export async function simulatorWithOpenInvoices(count: number): Promise<{ sim: Simulator; opens: Stripe.Invoice[]; paid: Stripe.Invoice }> {
  // The history generated depends on the day it starts from (today): with 100 customers
  // some days never had six such invoices open at once within 180 days; with 300, every
  // start tried over a hundred days had them within 40.
  const sim = await startSimulator({ customers: 300, months: 3, rateLimit: 0 });
  for (let day = 0; day < 180; day++) {
    const invoices = sim.account().invoices.rows;
    const soon = Date.now() / 1000 + 86_400;
    const opens = new Map<string, Stripe.Invoice>();
    for (const i of invoices) {
      if (i.status === 'open' && i.attempt_count > 0 && (i.next_payment_attempt ?? 0) > soon) opens.set(typeof i.customer === 'string' ? i.customer : (i.customer?.id ?? ''), i);
    }
    const paid = invoices.find((i) => i.status === 'paid');
    if (opens.size >= count && paid) return { sim, opens: [...opens.values()].slice(0, count), paid };
    sim.advance(86_400);
  }
  await sim.stop();
  throw new Error(`the simulator produced fewer than ${count} open invoices in 180 days`);
}

export async function simulatorWithOpenInvoice(): Promise<{ sim: Simulator; open: Stripe.Invoice; paid: Stripe.Invoice }> {
  const { sim, opens, paid } = await simulatorWithOpenInvoices(1);
  return { sim, open: opens[0]!, paid };
}

/** A StripeReader on the simulator with the restricted key Wysera asks users for. */
export function simulatorReader(sim: Simulator): StripeReader {
  const stripe = new Stripe(sim.accounts[0]!.restrictedKey, { ...stripeHostOptions(sim.url), maxNetworkRetries: 0 });
  return createStripeReader(() => Promise.resolve(stripe));
}

/** A draft ready to send (as the dunning activities would leave it). */
export async function sendableDraft(db: Knex, workspaceId: string, over: { status?: 'approved' | 'scheduled' | 'drafted'; to?: string | null } = {}): Promise<Draft> {
  const { draft } = await createDraftOnce(
    db,
    {
      workspaceId,
      customerId: 'cus_test',
      play: 'dunning',
      step: 'step-0',
      workflowId: `dunning:${workspaceId}:in_${randomUUID().slice(0, 8)}`,
      subjectRef: null,
      templateKey: 'friendly',
      status: over.status === 'drafted' ? 'drafted' : 'scheduled',
      toAddress: over.to === undefined ? 'jo@customer.test' : over.to,
      subject: 'Your payment did not go through',
      bodyHtml: '<p>Please update your card</p>',
      bodyText: 'Please update your card',
      facts: { test: true },
      scheduledFor: new Date(),
    },
    'system:test',
  );
  return draft;
}
