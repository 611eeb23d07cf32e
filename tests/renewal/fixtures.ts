import type Stripe from 'stripe';
import { seedMirror } from '../../db/analytics-seed';
import { openDunningCase } from '../../db/dunning-cases';
import { expansionPitchRows, openExpansionPitches } from '../../db/expansion-pitches';
import type { Db } from '../../db/knex';
import { upsertCustomers } from '../../db/mirror';
import { replaceOverrides } from '../../db/product-mapping';
import { storeProductSignals } from '../../db/product-signals';
import type { ProductSignal } from '../../domain/product-signals';
import type { Keyring } from '../../platform/crypto';
import { CustomerBuilder } from '../domain/mrr-builder';
import { ago } from '../helpers/plan-customers';
import { stripeFixture } from '../helpers/stripe';

/**
 * A customer billed yearly (Starter $290, Growth $990, Scale $2,990 a year) or, with
 * `monthly`, Growth at $99 a month; their subscription renews in `renewsInDays`.
 */
export const yearly = (id: string, renewsInDays: number, opts: { plan?: 'starter' | 'growth' | 'scale'; cancel?: boolean; monthly?: boolean; status?: string; also?: number } = {}) => {
  const customer = new CustomerBuilder(id)
    .price('price_starter_y', 29_000, 'year')
    .price('price_growth_y', 99_000, 'year')
    .price('price_scale_y', 299_000, 'year')
    .price('price_growth_m', 9_900, 'month')
    .subscription(`sub_${id}`, {
      items: [opts.monthly ? 'price_growth_m' : `price_${opts.plan ?? 'growth'}_y`],
      status: opts.status ?? 'active',
      cancel_at_period_end: opts.cancel ?? false,
      current_period_start: ago(365 - renewsInDays),
      current_period_end: ago(-renewsInDays),
    });
  // A second yearly subscription of theirs, renewing `also` days from now.
  if (opts.also !== undefined) customer.subscription(`sub_${id}_2`, { items: ['price_starter_y'], current_period_start: ago(365 - opts.also), current_period_end: ago(-opts.also) });
  return customer.build();
};

/** A customer as Stripe lists them, without a discount of their own (the fixture's has one whose coupon it does not say). */
export const contact = (id: string, name: string) => ({ ...stripeFixture('customer'), id, name, email: `${id}@example.com`, created: Math.floor(ago(700).getTime() / 1000), discount: null }) as unknown as Stripe.Customer;
const signal = (customerId: string, daysAgo: number, kind: 'login' | 'reports', quantity = 0): ProductSignal =>
  kind === 'login' ? { type: 'login', id: `l-${customerId}-${daysAgo}`, customerId, at: ago(daysAgo) } : { type: 'usage', id: `r-${customerId}-${daysAgo}`, customerId, at: ago(daysAgo), metric: 'reports_generated', quantity };

/**
 * A workspace whose customers renew, the plans limiting reports (Starter 1,000,
 * Growth 10,000, Scale 50,000 a month):
 * - cus_steady (Growth, yearly): renews in 20 days; 2,400 reports, logged in yesterday;
 * - cus_growing (Growth, yearly): renews in 10 days; 9,000 reports (90% of the limit);
 * - cus_wavering (Growth, yearly): renews in 25 days; two urgent tickets, quiet for 20 days, an NPS of 4 (risk 50);
 * - cus_owing (Growth, yearly): renews in 15 days, in dunning;
 * - cus_monthly (Growth, monthly): renews in 10 days;
 * - cus_far (Growth, yearly): renews in 60 days;
 * - cus_leaving (Growth, yearly): renews in 12 days but set to cancel;
 * - cus_trial (Growth, yearly): a trial ending in 8 days (a first charge, not a renewal);
 * - cus_twice (Growth and Starter, yearly): renewing in 14 and 16 days;
 * - cus_pitched (Growth, yearly): renews in 18 days; 9,500 reports, but pitched an upgrade 10 days ago (sent).
 */
export async function seedRenewals(db: Db, keyring: Keyring, ws: string): Promise<void> {
  await db('stripe_products').insert(
    [
      ['prod_price_starter_y', 'Starter'],
      ['prod_price_growth_y', 'Growth'],
      ['prod_price_scale_y', 'Scale'],
      ['prod_price_growth_m', 'Growth monthly'],
    ].map(([id, name]) => ({ workspace_id: ws, id, name, active: true, stripe_state_at: new Date() })),
  );
  await replaceOverrides(
    db,
    ws,
    [
      { productId: 'prod_price_starter_y', planName: 'Starter', tierRank: 1, limits: { reports_generated: 1_000 } },
      { productId: 'prod_price_growth_m', planName: 'Growth', tierRank: 2, limits: { reports_generated: 10_000 } },
      { productId: 'prod_price_growth_y', planName: 'Growth', tierRank: 3, limits: { reports_generated: 10_000 } },
      { productId: 'prod_price_scale_y', planName: 'Scale', tierRank: 4, limits: { reports_generated: 50_000 } },
    ],
    'test',
  );
  await seedMirror(db, ws, [
    yearly('cus_steady', 20),
    yearly('cus_growing', 10),
    yearly('cus_wavering', 25),
    yearly('cus_owing', 15),
    yearly('cus_monthly', 10, { monthly: true }),
    yearly('cus_far', 60),
    yearly('cus_leaving', 12, { cancel: true }),
    yearly('cus_trial', 8, { status: 'trialing' }),
    yearly('cus_twice', 14, { also: 16 }),
    yearly('cus_pitched', 18),
  ]);
  const ids = ['cus_steady', 'cus_growing', 'cus_wavering', 'cus_owing', 'cus_monthly', 'cus_far', 'cus_leaving', 'cus_trial', 'cus_twice', 'cus_pitched'];
  await upsertCustomers(db, ws, ids.map((id) => contact(id, `${id.slice(4, 5).toUpperCase()}${id.slice(5)} Customer`)), new Date(), keyring);
  await storeProductSignals(db, ws, [
    signal('cus_steady', 1, 'login'),
    signal('cus_steady', 3, 'reports', 2_400),
    signal('cus_growing', 1, 'login'),
    signal('cus_growing', 3, 'reports', 9_000),
    signal('cus_wavering', 20, 'login'),
    { type: 'ticket', id: 'T-1', customerId: 'cus_wavering', at: ago(2), ticket: 'T-1', status: 'opened', priority: 'urgent' },
    { type: 'ticket', id: 'T-2', customerId: 'cus_wavering', at: ago(2), ticket: 'T-2', status: 'opened', priority: 'urgent' },
    ...['cus_owing', 'cus_monthly', 'cus_far', 'cus_leaving', 'cus_trial', 'cus_twice', 'cus_pitched'].map((id) => signal(id, 1, 'login')),
    signal('cus_pitched', 3, 'reports', 9_500),
  ]);
  const [pitch] = await openExpansionPitches(db, ws, [{ customerId: 'cus_pitched', evidence: { trigger: 'near_limit', metric: 'reports_generated', label: 'reports generated', used: 8_200, included: 10_000, percent: 82, targetIncluded: 50_000 }, targetProductId: 'prod_price_scale_y' }], { cooldownDays: 90, now: ago(11) });
  await expansionPitchRows.close(db, pitch!.id, 'sent', ago(10));
  await db('nps_responses').insert({ workspace_id: ws, customer_id: 'cus_wavering', score: 4, at: ago(10) });
  await openDunningCase(db, { workspaceId: ws, invoiceId: 'in_owing', customerId: 'cus_owing', workflowId: `dunning:${ws}:in_owing`, currency: 'usd', amountDue: 99_000, failedAt: ago(3) });
}
