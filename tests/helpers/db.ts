import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createDb, type Knex } from '../../db/knex';

/**
 * A database of its own for one test file, cloned from the migrated template, so
 * files run in parallel without seeing each other's rows.
 */
export async function freshDatabase(): Promise<{ db: Knex; url: string; drop: () => Promise<void> }> {
  const adminUrl = inject('pgAdminUrl');
  const name = `wysera_test_${randomBytes(6).toString('hex')}`;
  const admin = createDb(adminUrl, 1);
  await admin.raw(`create database ${name} template ${inject('pgTemplate')}`);
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  const db = createDb(url, 5);
  return {
    db,
    url,
    drop: async () => {
      await db.destroy();
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}
