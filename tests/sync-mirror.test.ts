import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { upsertCustomers, upsertInvoices, upsertSubscriptions } from '../db/mirror';
import type { Knex } from '../db/knex';
import { insertWorkspace } from '../db/workspaces';
import { findCustomerContact } from '../db/customer-pii';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { freshDatabase, statementsOf } from './helpers/db';
import { stripeFixture } from './helpers/stripe';

let db: Knex;
let drop: () => Promise<void>;
const ws = 'ws_mirrorTest';
const keyring = parseKeyring(generateKeySpec());
/** The mirrored email, opened with the keyring (the column holds a sealed value). */
const emailOf = async (id: string) => (await findCustomerContact(db, keyring, ws, id))?.email;

beforeAll(async () => {
  ({ db, drop } = await freshDatabase());
  await insertWorkspace(db, keyring, { id: ws, name: 'Mirror', webhookSecret: 'whsec_x' });
});
afterAll(async () => {
  await drop?.();
});

const t = (s: string) => new Date(`2026-01-01T00:00:${s}Z`);
const customer = (over: Partial<Stripe.Customer>) => ({ ...(stripeFixture('customer') as unknown as Stripe.Customer), id: 'cus_mirror1', ...over });

describe('mirror upserts', () => {
  it('never let older state overwrite newer state, and re-apply equal state', async () => {
    expect(await upsertCustomers(db, ws, [customer({ email: 'new@example.com' })], t('20'), keyring)).toEqual(['cus_mirror1']);
    // An older event arriving late loses.
    expect(await upsertCustomers(db, ws, [customer({ email: 'old@example.com' })], t('10'), keyring)).toEqual([]);
    expect(await emailOf('cus_mirror1')).toBe('new@example.com');
    // The same state again is written (idempotent); newer state wins.
    expect(await upsertCustomers(db, ws, [customer({ email: 'new@example.com' })], t('20'), keyring)).toEqual(['cus_mirror1']);
    await upsertCustomers(db, ws, [customer({ email: 'newer@example.com' })], t('30'), keyring);
    expect(await emailOf('cus_mirror1')).toBe('newer@example.com');
  });

  it('flags a deleted customer without losing what was known, unless the deletion is older', async () => {
    await upsertCustomers(db, ws, [{ id: 'cus_mirror1', object: 'customer', deleted: true }], t('25'), keyring);
    expect((await db('stripe_customers').where({ id: 'cus_mirror1' }).first<{ deleted: boolean }>()).deleted).toBe(false);
    await upsertCustomers(db, ws, [{ id: 'cus_mirror1', object: 'customer', deleted: true }], t('40'), keyring);
    expect(await db('stripe_customers').where({ id: 'cus_mirror1' }).first<{ deleted: boolean }>()).toMatchObject({ deleted: true });
    expect(await emailOf('cus_mirror1')).toBe('newer@example.com');
  });

  it('replaces a subscription\'s items with the complete list it carries', async () => {
    const fixture = stripeFixture('subscription') as unknown as Stripe.Subscription;
    const item = fixture.items.data[0]!;
    const sub = (items: Stripe.SubscriptionItem[], hasMore = false): Stripe.Subscription => ({ ...fixture, id: 'sub_mirror1', items: { ...fixture.items, data: items, has_more: hasMore } });
    await upsertSubscriptions(db, ws, [sub([{ ...item, id: 'si_a' }, { ...item, id: 'si_b', quantity: 3 }])], t('10'));
    expect((await db('stripe_subscription_items').where({ subscription_id: 'sub_mirror1' }).orderBy('id')).map((r: { id: string }) => r.id)).toEqual(['si_a', 'si_b']);
    // An incomplete list (has_more) only adds; a complete one also removes.
    await upsertSubscriptions(db, ws, [sub([{ ...item, id: 'si_c' }], true)], t('20'));
    expect(await db('stripe_subscription_items').where({ subscription_id: 'sub_mirror1' }).count<{ c: string }[]>('* as c')).toEqual([{ c: 3 }]);
    await upsertSubscriptions(db, ws, [sub([{ ...item, id: 'si_c' }])], t('30'));
    expect((await db('stripe_subscription_items').where({ subscription_id: 'sub_mirror1' })).map((r: { id: string }) => r.id)).toEqual(['si_c']);
    // An older subscription state touches neither the subscription nor its items.
    expect(await upsertSubscriptions(db, ws, [sub([{ ...item, id: 'si_a' }])], t('05'))).toEqual([]);
    expect((await db('stripe_subscription_items').where({ subscription_id: 'sub_mirror1' })).map((r: { id: string }) => r.id)).toEqual(['si_c']);
  });

  it('writes objects of different times in one go, each as the state of its own time', async () => {
    const fixture = stripeFixture('subscription') as unknown as Stripe.Subscription;
    const item = fixture.items.data[0]!;
    const sub = (id: string, items: string[], quantity: number): Stripe.Subscription => ({
      ...fixture,
      id,
      items: { ...fixture.items, has_more: false, data: items.map((i) => ({ ...item, id: i, quantity, subscription: id })) },
    });
    await upsertSubscriptions(db, ws, [sub('sub_early', ['si_e1'], 1)], t('10'));
    await upsertSubscriptions(db, ws, [sub('sub_late', ['si_l1'], 1)], t('30'));
    // One call: sub_early moves to :20 with a new item list; sub_late's :20 state is older than what is stored.
    const { result: written, statements } = await statementsOf(db, () =>
      upsertSubscriptions(
        db,
        ws,
        [sub('sub_early', ['si_e2'], 2), sub('sub_late', ['si_l2'], 2)],
        new Map([
          ['sub_early', t('20')],
          ['sub_late', t('20')],
        ]),
      ),
    );
    expect(written).toEqual(['sub_early']);
    // Subscriptions, their items, the removal of items no longer listed, the prices they bill on (unless mirrored): four statements.
    expect(statements).toHaveLength(4);
    const items = await db('stripe_subscription_items').whereIn('subscription_id', ['sub_early', 'sub_late']).orderBy('id').select<{ id: string; quantity: number; stripe_state_at: Date }[]>('id', 'quantity', 'stripe_state_at');
    expect(items.map((i) => [i.id, i.quantity, i.stripe_state_at.toISOString()])).toEqual([
      ['si_e2', 2, t('20').toISOString()],
      ['si_l1', 1, t('30').toISOString()],
    ]);
  });

  it('maps an invoice of the current API version: subscription from parent, tax from total_taxes, paid_at', async () => {
    const fixture = stripeFixture('invoice') as unknown as Stripe.Invoice;
    const inv: Stripe.Invoice = {
      ...fixture,
      id: 'in_mirror1',
      parent: { type: 'subscription_details', quote_details: null, subscription_details: { metadata: null, subscription: 'sub_mirror1' } },
      total_taxes: [{ amount: 120 } as Stripe.Invoice.TotalTax, { amount: 30 } as Stripe.Invoice.TotalTax],
      status_transitions: { ...fixture.status_transitions, paid_at: 1_767_225_600 },
    };
    await upsertInvoices(db, ws, [inv], t('10'));
    const row = await db('stripe_invoices').where({ id: 'in_mirror1' }).first<{ subscription_id: string; tax: number; paid_at: Date; amount_due: number }>();
    expect(row).toMatchObject({ subscription_id: 'sub_mirror1', tax: 150, amount_due: fixture.amount_due });
    expect(row.paid_at.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(await db('stripe_invoice_lines').where({ invoice_id: 'in_mirror1' }).count<{ c: string }[]>('* as c')).toEqual([{ c: fixture.lines.data.length }]);
  });
});
