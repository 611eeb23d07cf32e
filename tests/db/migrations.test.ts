import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationConfig, pendingMigrations } from '../../db/migrations';
import * as backfill from '../../db/migrations/014_invoice_subscription_backfill';
import { freshDatabase } from '../helpers/db';

describe('migrations on a real Postgres', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    database = await freshDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  const tables = async (): Promise<string[]> => {
    const rows = await database.db<{ table_name: string; table_schema: string }>('information_schema.tables').where({ table_schema: 'public' }).select('table_name');
    const names = rows.map((r) => r.table_name);
    return names.filter((t) => !t.startsWith('knex_')).sort();
  };

  it('rolls back to an empty schema and applies again', async () => {
    const before = await tables();
    expect(before).toEqual(expect.arrayContaining(['workspaces', 'webhook_inbox', 'drafts', 'sends', 'audit_log', 'stripe_invoices', 'stripe_subscription_items']));
    await database.db.migrate.rollback(migrationConfig, true);
    expect(await tables()).toEqual([]);
    await database.db.migrate.latest(migrationConfig);
    expect(await tables()).toEqual(before);
  });

  it('names the migrations a database has not applied yet (what a worker waits for)', async () => {
    expect(await pendingMigrations(database.db)).toEqual([]);
    await database.db.migrate.down(migrationConfig);
    expect(await pendingMigrations(database.db)).toEqual(['019_dunning_steps_sent']);
    await database.db.migrate.latest(migrationConfig);
    expect(await pendingMigrations(database.db)).toEqual([]);
  });

  it('keeps the audit log append-only', async () => {
    const [row] = await database.db<{ id: number; actor: string; action: string; target_type: string }>('audit_log').insert({ actor: 'system:test', action: 'test.created', target_type: 'test' }).returning('id');
    const id = row!.id;
    await expect(database.db('audit_log').where({ id }).update({ action: 'tampered' })).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(database.db('audit_log').where({ id }).delete()).rejects.toThrow(/append-only: DELETE refused/);
    await expect(database.db.raw('truncate audit_log')).rejects.toThrow(/append-only: TRUNCATE refused/);
    expect(await database.db('audit_log').where({ id }).first()).toMatchObject({ action: 'test.created' });
  });

  it('gives invoices mirrored without their subscription the one their subscription lines name', async () => {
    const ws = 'ws_backfill';
    const db = database.db;
    await db('workspaces').insert({ id: ws, name: 'backfill' });
    const at = new Date();
    const invoice = (id: string, billingReason: string, subscriptionId: string | null = null) => ({
      workspace_id: ws, id, customer_id: 'cus_b', subscription_id: subscriptionId, status: 'open', currency: 'usd',
      amount_due: 1000, amount_paid: 0, amount_remaining: 1000, subtotal: 1000, total: 1000, billing_reason: billingReason, stripe_state_at: at,
    });
    const line = (id: string, invoiceId: string, subscriptionId: string | null, type = 'subscription') => ({
      workspace_id: ws, id, invoice_id: invoiceId, subscription_id: subscriptionId, type, amount: 500, currency: 'usd', stripe_state_at: at,
    });
    await db('stripe_invoices').insert([
      invoice('in_legacy', 'subscription_cycle'),
      invoice('in_two_subs', 'subscription_update'),
      invoice('in_one_off', 'manual'),
      invoice('in_item_only', 'subscription_cycle'),
      invoice('in_known', 'subscription_cycle', 'sub_known'),
    ]);
    await db('stripe_invoice_lines').insert([
      line('il_1', 'in_legacy', 'sub_a'),
      line('il_2', 'in_legacy', 'sub_a'),
      line('il_3', 'in_two_subs', 'sub_a'),
      line('il_4', 'in_two_subs', 'sub_b'),
      line('il_5', 'in_one_off', 'sub_a'),
      line('il_6', 'in_item_only', 'sub_a', 'invoiceitem'),
      line('il_7', 'in_known', 'sub_other'),
    ]);
    // The backfill, as an older database runs it on upgrade.
    await backfill.up(db);

    const rows = await db('stripe_invoices').where({ workspace_id: ws }).orderBy('id').select<{ id: string; subscription_id: string | null }[]>('id', 'subscription_id');
    expect(Object.fromEntries(rows.map((r) => [r.id, r.subscription_id]))).toEqual({
      in_item_only: null,
      in_known: 'sub_known',
      in_legacy: 'sub_a',
      in_one_off: null,
      in_two_subs: null,
    });
  });

  it('refuses an inbox status outside the lifecycle', async () => {
    await database.db('workspaces').insert({ id: 'ws_m', name: 'm' });
    await expect(
      database.db('webhook_inbox').insert({ workspace_id: 'ws_m', event_id: 'evt_1', type: 't', stripe_created: new Date(), livemode: false, payload: '{}', status: 'weird' }),
    ).rejects.toThrow(/webhook_inbox_status_check/);
  });
});
