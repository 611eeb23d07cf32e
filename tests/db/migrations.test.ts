import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationConfig, pendingMigrations } from '../../db/migrations';
import * as backfill from '../../db/migrations/014_invoice_subscription_backfill';
import { createDraftOnce } from '../../db/drafts';
import { openDunningCase } from '../../db/dunning-cases';
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
    expect(await pendingMigrations(database.db)).toEqual(['035_subscription_item_discounts']);
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

  it("fills in the steps a closed dunning emailed from its sent drafts (019), leaving the others to the old reading", async () => {
    const ws = 'ws_steps';
    const db = database.db;
    await db('workspaces').insert({ id: ws, name: 'steps' });
    const workflowId = (invoice: string) => `dunning:${ws}:${invoice}`;
    for (const invoice of ['in_late', 'in_nodrafts', 'in_running']) {
      await openDunningCase(db, { workspaceId: ws, invoiceId: invoice, customerId: 'cus_s', workflowId: workflowId(invoice), currency: 'usd', amountDue: 1000, failedAt: new Date() });
    }
    const draft = async (invoice: string, step: number, status: string) => {
      const { draft: d } = await createDraftOnce(
        db,
        { workspaceId: ws, customerId: 'cus_s', play: 'dunning', step: `step-${step}`, workflowId: workflowId(invoice), subjectRef: invoice, templateKey: 'firm', status: 'drafted', toAddress: null, subject: 's', bodyHtml: 'h', bodyText: 't', facts: {}, scheduledFor: null },
        'test',
      );
      await db('drafts').where({ id: d.id }).update({ status });
    };
    // Begun late at step 3: steps 3 and 4 sent, step 5's email discarded; a running dunning's sent draft is left alone.
    await draft('in_late', 3, 'sent');
    await draft('in_late', 4, 'sent');
    await draft('in_late', 5, 'discarded');
    await draft('in_running', 0, 'sent');
    // Closed as they were before 019: no steps recorded.
    await db('dunning_cases').where({ workspace_id: ws, invoice_id: 'in_late' }).update({ outcome: 'recovered', emails_sent: 2, last_step_sent: 4, ended_at: new Date() });
    await db('dunning_cases').where({ workspace_id: ws, invoice_id: 'in_nodrafts' }).update({ outcome: 'exhausted', emails_sent: 1, last_step_sent: 0, ended_at: new Date() });
    // 019 alone undone (the later ones leave dunning_cases alone), then everything applied again.
    await database.db.migrate.down({ ...migrationConfig, name: '019_dunning_steps_sent' });
    await database.db.migrate.latest(migrationConfig);
    const steps = await db('dunning_cases').where({ workspace_id: ws }).orderBy('invoice_id').select('invoice_id', 'steps_sent');
    expect(steps).toEqual([
      { invoice_id: 'in_late', steps_sent: [3, 4] },
      { invoice_id: 'in_nodrafts', steps_sent: null },
      { invoice_id: 'in_running', steps_sent: null },
    ]);
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
