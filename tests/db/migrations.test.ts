import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationConfig } from '../../db/migrations';
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

  it('keeps the audit log append-only', async () => {
    const [row] = await database.db<{ id: number; actor: string; action: string; target_type: string }>('audit_log').insert({ actor: 'system:test', action: 'test.created', target_type: 'test' }).returning('id');
    const id = row!.id;
    await expect(database.db('audit_log').where({ id }).update({ action: 'tampered' })).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(database.db('audit_log').where({ id }).delete()).rejects.toThrow(/append-only: DELETE refused/);
    await expect(database.db.raw('truncate audit_log')).rejects.toThrow(/append-only: TRUNCATE refused/);
    expect(await database.db('audit_log').where({ id }).first()).toMatchObject({ action: 'test.created' });
  });

  it('refuses an inbox status outside the lifecycle', async () => {
    await database.db('workspaces').insert({ id: 'ws_m', name: 'm' });
    await expect(
      database.db('webhook_inbox').insert({ workspace_id: 'ws_m', event_id: 'evt_1', type: 't', stripe_created: new Date(), livemode: false, payload: '{}', status: 'weird' }),
    ).rejects.toThrow(/webhook_inbox_status_check/);
  });
});
