import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { Connection } from '@temporalio/client';
import { createDb } from '../../db/knex';
import { migrationConfig } from '../../db/migrations';
import { ensureSearchAttributes } from '../../workers/search-attributes';
import { startThrowawayPostgres } from './postgres';
import { startTemporalDevServerOnFreePort } from './temporal-server';
import { toolPaths } from './tools';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test cluster's maintenance database. */
    pgAdminUrl: string;
    /** A migrated database that each test file clones (CREATE DATABASE ... TEMPLATE). */
    pgTemplate: string;
    temporalAddress: string;
  }
}

/** Starts a throwaway Postgres cluster and a Temporal dev server for the test run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tools = toolPaths();
  for (const [name, p] of Object.entries({ temporal: tools.temporal, testServer: tools.testServer })) {
    if (!existsSync(p)) throw new Error(`${name} not found at ${p}: run scripts/install-tools.sh (npm test does)`);
  }
  const postgres = await startThrowawayPostgres('wysera-test-');
  const pgAdminUrl = postgres.adminUrl;

  const admin = createDb(pgAdminUrl, 1);
  await admin.raw('create database wysera_template');
  await admin.destroy();
  const template = createDb(postgres.urlOf('wysera_template'), 1);
  await template.migrate.latest(migrationConfig);
  await template.destroy();

  const temporal = await startTemporalDevServerOnFreePort();
  const temporalAddress = temporal.address;
  const connection = await Connection.connect({ address: temporalAddress });
  await ensureSearchAttributes(connection, 'default');
  await connection.close();

  project.provide('pgAdminUrl', pgAdminUrl);
  project.provide('pgTemplate', 'wysera_template');
  project.provide('temporalAddress', temporalAddress);

  return async () => {
    await temporal.stop();
    await postgres.stop();
  };
}
