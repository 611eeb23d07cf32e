import type Stripe from 'stripe';
import { seedMirror } from '../../db/analytics-seed';
import { openDunningCase } from '../../db/dunning-cases';
import type { Db } from '../../db/knex';
import { upsertCustomers } from '../../db/mirror';
import { storeProductSignals } from '../../db/product-signals';
import type { ProductSignal } from '../../domain/product-signals';
import type { Keyring } from '../../platform/crypto';
import { onPlan } from '../helpers/plan-customers';
import { stripeFixture } from '../helpers/stripe';

const DAY = 86_400_000;

/**
 * A workspace's mirror with customers the churn radar reads, scored as of now:
 * - cus_leaving (Growth, $99): set to cancel (50);
 * - cus_troubled (Growth): two urgent tickets, quiet for 20 days, an NPS of 4 (50);
 * - cus_drifting (Starter, the cheapest): usage down 80%, quiet for 15 days (50);
 * - cus_calm (Growth): logged in yesterday (0);
 * - cus_failing (Growth): set to cancel, and in dunning.
 * Plans: Starter $29, Growth $99, Scale $299 a month.
 */
export async function seedAtRisk(db: Db, keyring: Keyring, ws: string): Promise<void> {
  const ago = (days: number) => new Date(Date.now() - days * DAY);
  // Three plans; seedMirror names each price's product prod_<price>.
  await db('stripe_products').insert(
    [
      ['prod_price_starter', 'Starter'],
      ['prod_price_growth', 'Growth'],
      ['prod_price_scale', 'Scale'],
    ].map(([id, name]) => ({ workspace_id: ws, id, name, active: true, stripe_state_at: new Date() })),
  );
  const customer = onPlan;
  await seedMirror(db, ws, [
    customer('cus_leaving', 'growth', { cancel: true }),
    customer('cus_troubled', 'growth'),
    customer('cus_drifting', 'starter'),
    customer('cus_calm', 'growth'),
    customer('cus_failing', 'growth', { cancel: true }),
  ]);
  const contact = (id: string, name: string) => ({ ...stripeFixture('customer'), id, name, email: `${id}@example.com`, created: Math.floor(ago(400).getTime() / 1000) }) as unknown as Stripe.Customer;
  await upsertCustomers(db, ws, [contact('cus_leaving', 'Lee Leaving'), contact('cus_troubled', 'Toni Troubled'), contact('cus_drifting', 'Dana Drifting'), contact('cus_calm', 'Cal Calm'), contact('cus_failing', 'Fay Failing')], new Date(), keyring);
  const login = (customerId: string, daysAgo: number, id: string): ProductSignal => ({ type: 'login', id, customerId, at: ago(daysAgo) });
  const usage = (customerId: string, daysAgo: number, quantity: number, id: string): ProductSignal => ({ type: 'usage', id, customerId, at: ago(daysAgo), metric: 'reports_generated', quantity });
  const urgent = (customerId: string, ticket: string): ProductSignal => ({ type: 'ticket', id: ticket, customerId, at: ago(2), ticket, status: 'opened', priority: 'urgent' });
  await storeProductSignals(db, ws, [
    // Two urgent tickets (20), quiet for 20 days (20), and a detractor (10): 50.
    urgent('cus_troubled', 'T-1'),
    urgent('cus_troubled', 'T-2'),
    login('cus_troubled', 20, 't-login'),
    // Usage down 80% (30) and quiet for 15 days (20) on the cheapest plan: 50.
    usage('cus_drifting', 45, 500, 'd-1'),
    usage('cus_drifting', 5, 100, 'd-2'),
    login('cus_drifting', 15, 'd-login'),
    login('cus_calm', 1, 'c-login'),
  ]);
  await db('nps_responses').insert({ workspace_id: ws, customer_id: 'cus_troubled', score: 4, at: ago(10) });
  // Set to cancel, but in dunning: the dunning play is already writing to them.
  await openDunningCase(db, { workspaceId: ws, invoiceId: 'in_failing', customerId: 'cus_failing', workflowId: `dunning:${ws}:in_failing`, currency: 'usd', amountDue: 9900, failedAt: ago(3) });
}
