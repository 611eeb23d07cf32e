import type Stripe from 'stripe';
import { seedMirror } from '../../db/analytics-seed';
import { openDunningCase } from '../../db/dunning-cases';
import type { Db } from '../../db/knex';
import { upsertCustomers, upsertSubscriptions } from '../../db/mirror';
import { replaceOverrides } from '../../db/product-mapping';
import { storeProductSignals } from '../../db/product-signals';
import type { ProductSignal } from '../../domain/product-signals';
import type { Keyring } from '../../platform/crypto';
import { ago, onPlan } from '../helpers/plan-customers';
import { stripeFixture } from '../helpers/stripe';

/** A seat plan's subscription as Stripe sends it (Stripe's example object), on Growth with `quantity` seats. */
export function seatSubscription(customer: string, quantity: number, addOnQuantity?: number): Stripe.Subscription {
  const fixture = stripeFixture('subscription') as unknown as Stripe.Subscription;
  const item = fixture.items.data[0]!;
  // An add-on of another product (Starter's price stands in for it): its quantity is not the plan's seats.
  const addOn = addOnQuantity === undefined ? [] : [{ ...item, id: `si_${customer}_addon`, subscription: `sub_${customer}`, quantity: addOnQuantity, price: { ...item.price, id: 'price_starter' } }];
  return {
    ...fixture,
    id: `sub_${customer}`,
    customer,
    status: 'active',
    cancel_at_period_end: false,
    cancel_at: null,
    canceled_at: null,
    ended_at: null,
    items: { ...fixture.items, has_more: false, data: [{ ...item, id: `si_${customer}`, subscription: `sub_${customer}`, quantity, price: { ...item.price, id: 'price_growth' } }, ...addOn] },
  };
}

/** The usage signal of `quantity` reports a customer generated `daysAgo`. */
export const reports = (customerId: string, quantity: number, daysAgo = 5): ProductSignal => ({ type: 'usage', id: `r-${customerId}-${daysAgo}-${quantity}`, customerId, at: ago(daysAgo), metric: 'reports_generated', quantity });
const login = (customerId: string): ProductSignal => ({ type: 'login', id: `l-${customerId}`, customerId, at: ago(1) });

/**
 * A workspace the expansion play reads. Plans: Starter $29 (1,000 reports, 3 seats),
 * Growth $99 (10,000 reports, 10 seats), Scale $299 (50,000 reports, unlimited
 * seats), per seat. Customers, all logged in yesterday:
 * - cus_busy (Growth): 8,600 reports in the last 30 days (86%);
 * - cus_team (Growth): 6 seats for months, 9 two days ago; an add-on raised from 1 to 8;
 * - cus_quiet (Growth): 2,000 reports;
 * - cus_risky (Growth): 9,000 reports, but set to cancel (risk 50);
 * - cus_owing (Growth): 9,000 reports, in dunning;
 * - cus_top (Scale): 45,000 reports, on the top plan.
 */
export async function seedExpansion(db: Db, keyring: Keyring, ws: string): Promise<void> {
  await db('stripe_products').insert(
    [
      ['prod_price_starter', 'Starter'],
      ['prod_price_growth', 'Growth'],
      ['prod_price_scale', 'Scale'],
    ].map(([id, name]) => ({ workspace_id: ws, id, name, active: true, stripe_state_at: new Date() })),
  );
  await replaceOverrides(
    db,
    ws,
    [
      { productId: 'prod_price_starter', planName: 'Starter', tierRank: 1, limits: { reports_generated: 1_000, seats: 3 } },
      { productId: 'prod_price_growth', planName: 'Growth', tierRank: 2, limits: { reports_generated: 10_000, seats: 10 } },
      { productId: 'prod_price_scale', planName: 'Scale', tierRank: 3, limits: { reports_generated: 50_000, seats: null } },
    ],
    'test',
  );
  await seedMirror(db, ws, [onPlan('cus_busy', 'growth'), onPlan('cus_quiet', 'growth'), onPlan('cus_risky', 'growth', { cancel: true }), onPlan('cus_owing', 'growth'), onPlan('cus_top', 'scale')]);
  // Six seats since long before the window (an insert records no change), nine two days ago.
  await upsertSubscriptions(db, ws, [seatSubscription('cus_team', 6)], ago(200));
  await upsertSubscriptions(db, ws, [seatSubscription('cus_team', 9)], ago(2));
  // An add-on bought yesterday and raised from 1 to 8 today: more than the plan's seats grew, but not seats.
  await upsertSubscriptions(db, ws, [seatSubscription('cus_team', 9, 1)], ago(1));
  await upsertSubscriptions(db, ws, [seatSubscription('cus_team', 9, 8)], ago(0.5));
  const contact = (id: string, name: string) => ({ ...stripeFixture('customer'), id, name, email: `${id}@example.com`, created: Math.floor(ago(400).getTime() / 1000) }) as unknown as Stripe.Customer;
  await upsertCustomers(
    db,
    ws,
    [contact('cus_busy', 'Bo Busy'), contact('cus_team', 'Tea Team'), contact('cus_quiet', 'Quin Quiet'), contact('cus_risky', 'Ria Risky'), contact('cus_owing', 'Owen Owing'), contact('cus_top', 'Tip Top')],
    new Date(),
    keyring,
  );
  const customers = ['cus_busy', 'cus_team', 'cus_quiet', 'cus_risky', 'cus_owing', 'cus_top'];
  await storeProductSignals(db, ws, [
    ...customers.map(login),
    reports('cus_busy', 8_600),
    reports('cus_quiet', 2_000),
    reports('cus_risky', 9_000),
    reports('cus_owing', 9_000),
    reports('cus_top', 45_000),
  ]);
  await openDunningCase(db, { workspaceId: ws, invoiceId: 'in_owing', customerId: 'cus_owing', workflowId: `dunning:${ws}:in_owing`, currency: 'usd', amountDue: 9900, failedAt: ago(3) });
}
