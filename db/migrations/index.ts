import type { Knex } from 'knex';
import * as m001 from './001_core_schema';

/**
 * Migrations are listed here rather than discovered on disk, so the same code runs
 * under tsx, vitest and the compiled build. Append new ones; never edit old ones.
 */
const migrations: Record<string, Knex.Migration> = {
  '001_core_schema': m001,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: () => Promise.resolve(Object.keys(migrations)),
  getMigrationName: (name) => name,
  getMigration: (name) => {
    const m = migrations[name];
    if (!m) throw new Error(`unknown migration ${name}`);
    return Promise.resolve(m);
  },
};

export const migrationConfig: Knex.MigratorConfig = { migrationSource, tableName: 'knex_migrations' };
