import type { Knex } from 'knex';

const MIRROR_TABLES = [
  'stripe_products',
  'stripe_prices',
  'stripe_customers',
  'stripe_subscriptions',
  'stripe_subscription_items',
  'stripe_invoices',
  'stripe_invoice_lines',
  'stripe_charges',
  'stripe_refunds',
  'stripe_payment_intents',
];

/**
 * A state read from Stripe's API is dated at the earliest it can have happened
 * (domain/stripe-clock.ts); it happened before the end of the second its answer was
 * dated. The mirror keeps that end beside the state time, so that an event from a
 * second the read may have followed is compared with the read (and Stripe asked when
 * they differ) instead of taken as newer: a change with no event of its own (an
 * invoice voided, say) read just after a failed payment would otherwise be undone by
 * that payment's event for good. Null for a state an event wrote, and for rows written
 * before this column (compared as before).
 *
 * Adding a nullable column rewrites nothing, but takes each table's exclusive lock for
 * a moment: waiting behind a long read for it would hold back every query queued
 * behind the wait. So each table goes in a transaction of its own that gives up the
 * wait after a few seconds, and is tried again; `if not exists` lets a run that
 * stopped part-way go on.
 */
export const config = { transaction: false };

const ATTEMPTS = 10;

export async function up(knex: Knex): Promise<void> {
  for (const table of MIRROR_TABLES) {
    for (let attempt = 1; ; attempt++) {
      try {
        await knex.transaction(async (trx) => {
          await trx.raw(`set local lock_timeout = '3s'`);
          await trx.raw(`alter table ?? add column if not exists stripe_read_until timestamptz`, [table]);
        });
        break;
      } catch (err) {
        // 55P03: lock_not_available (the lock timeout).
        if ((err as { code?: string }).code !== '55P03' || attempt === ATTEMPTS) throw err;
      }
    }
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of MIRROR_TABLES) await knex.raw(`alter table ?? drop column if exists stripe_read_until`, [table]);
}
