import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboxCounts } from '../../db/inbox';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startIngressStack, type IngressStack } from '../helpers/stack';
import { stripeEvent, stripeFixture } from '../helpers/stripe';
import { eventually } from '../helpers/temporal';

type Json = Record<string, unknown>;

/**
 * Stripe delivers at least once and out of order. Whatever the order and however
 * many copies arrive, the mirror ends where one ordered delivery would leave it.
 */
describe('duplicate and shuffled webhook storms', () => {
  const keyring = parseKeyring(generateKeySpec());
  const secret = 'whsec_storm';
  let stack: IngressStack;

  beforeAll(async () => {
    stack = await startIngressStack(keyring);
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** The history of one subscription: quantity and status change at increasing times. */
  function subscriptionHistory(subId: string, customer: string, steps: { quantity: number; status: string }[], start: number): Json[] {
    return steps.map((step, i) => {
      const sub = stripeFixture('subscription');
      const items = sub.items as { data: Json[] };
      const item = { ...items.data[0], id: `si_${subId}`, quantity: step.quantity, subscription: subId };
      const type = i === 0 ? 'customer.subscription.created' : step.status === 'canceled' ? 'customer.subscription.deleted' : 'customer.subscription.updated';
      return stripeEvent(type, { ...sub, id: subId, customer, status: step.status, quantity: step.quantity, items: { ...items, data: [item], has_more: false } }, { created: start + i * 10 });
    });
  }

  const step = fc.record({ quantity: fc.integer({ min: 1, max: 50 }), status: fc.constantFrom('trialing', 'active', 'past_due', 'canceled') });

  it('ends in the same mirror state as one ordered delivery', async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(step, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 }), fc.nat(), async (histories, seed) => {
        round++;
        const ws = `ws_storm${round}`;
        await insertWorkspace(stack.database.db, keyring, { id: ws, name: ws, webhookSecret: secret });
        const events = histories.flatMap((steps, i) => subscriptionHistory(`sub_storm${round}_${i}`, `cus_storm${round}_${i}`, steps, 1_700_000_000));
        // Every event once or three times, in a shuffled order.
        const deliveries = events.flatMap((e, i) => ((seed >> i % 16) & 1 ? [e, e, e] : [e]));
        const shuffled = fc.sample(fc.shuffledSubarray(deliveries, { minLength: deliveries.length, maxLength: deliveries.length }), { seed, numRuns: 1 })[0]!;
        for (const e of shuffled) expect((await stack.postEvent(ws, secret, e)).status).toBe(200);
        await eventually(() => inboxCounts(stack.database.db, ws), (c) => c.pending === 0 && c.processed === events.length);
        const rows = await stack.database.db('stripe_subscriptions').where({ workspace_id: ws }).orderBy('id').select('id', 'status');
        const items = await stack.database.db('stripe_subscription_items').where({ workspace_id: ws }).orderBy('id').select('subscription_id', 'quantity');
        // One ordered delivery leaves each subscription as its last step.
        expect(rows).toEqual(histories.map((steps, i) => ({ id: `sub_storm${round}_${i}`, status: steps.at(-1)!.status })).sort((a, b) => a.id.localeCompare(b.id)));
        expect(items).toEqual(histories.map((steps, i) => ({ subscription_id: `sub_storm${round}_${i}`, quantity: steps.at(-1)!.quantity })).sort((a, b) => a.subscription_id.localeCompare(b.subscription_id)));
      }),
      { numRuns: 12 },
    );
  });
});
