import type { Knex } from 'knex';

/**
 * Before the mirror read the top-level `subscription` that endpoints on API versions
 * older than 2025-03-31 send (db/mirror.ts, invoiceSubscriptionId), it stored such
 * invoices without their subscription. The relay's routing of a subscription's end
 * and a dunning's checks look invoices up by subscription, so those rows are given
 * the subscription their own lines name, on invoices Stripe made for a subscription
 * (a manual invoice's item may name a subscription the invoice does not bill), and
 * only when every such line names the same one. (Lines of those older versions
 * were all stored as type 'subscription', so the type filter alone would not keep
 * invoice items out.)
 * Rows written since carry it already; the next write of a row sets it either way.
 * Down does nothing: which rows were NULL before is not kept.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    update stripe_invoices i set subscription_id = l.subscription_id
      from (
        select workspace_id, invoice_id, min(subscription_id) as subscription_id
          from stripe_invoice_lines
         where type = 'subscription' and subscription_id is not null
         group by workspace_id, invoice_id
        having count(distinct subscription_id) = 1
      ) l
     where i.subscription_id is null
       and i.billing_reason like 'subscription%'
       and i.workspace_id = l.workspace_id and i.id = l.invoice_id`);
}

export async function down(): Promise<void> {}
