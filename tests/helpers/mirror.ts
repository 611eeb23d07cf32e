import type Stripe from 'stripe';
import type { Db } from '../../db/knex';
import { upsertInvoices } from '../../db/mirror';
import { stripeFixture } from './stripe';

/**
 * Mirrors an open invoice of the subscription (Stripe's example invoice, without
 * lines, so no MRR), as its failed payment would. The subscription's end then concerns
 * the plays (domain/play-routing.ts: an unpaid invoice), so tests that need an event
 * reaching a workflow can send one without starting a dunning.
 */
export async function mirrorOpenInvoice(db: Db, workspaceId: string, customerId: string, subscriptionId: string): Promise<string> {
  const id = `in_open_${subscriptionId}`;
  const invoice = {
    ...stripeFixture('invoice'),
    id,
    customer: customerId,
    status: 'open',
    parent: { type: 'subscription_details', subscription_details: { subscription: subscriptionId, metadata: {} } },
    lines: { object: 'list', data: [], has_more: false, url: `/v1/invoices/${id}/lines` },
  } as unknown as Stripe.Invoice;
  await upsertInvoices(db, workspaceId, [invoice], new Date());
  return id;
}
