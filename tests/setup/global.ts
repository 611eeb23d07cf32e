import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { Connection } from '@temporalio/client';
import { createDb } from '../../db/knex';
import { migrationConfig } from '../../db/migrations';
import { ensureSearchAttributes } from '../../workers/search-attributes';
import { freePort } from './ports';
import { startTemporalDevServer } from './temporal-server';
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
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wysera-test-'));
  // As root, Postgres runs as the postgres user, which must be able to enter this folder.
  chmodSync(dir, 0o755);
  const pgPort = await freePort();
  const pgData = path.join(dir, 'pg');
  execFileSync('bash', [tools.pgScript, 'start', pgData, String(pgPort)], { stdio: 'inherit', env: { ...process.env, WYSERA_PG_FSYNC: 'off' } });
  const pgAdminUrl = `postgres://wysera:wysera@127.0.0.1:${pgPort}/postgres`;

  const admin = createDb(pgAdminUrl, 1);
  await admin.raw('create database wysera_template');
  await admin.destroy();
  const template = createDb(`postgres://wysera:wysera@127.0.0.1:${pgPort}/wysera_template`, 1);
  await template.migrate.latest(migrationConfig);
  await template.destroy();

  const temporal = await startTemporalDevServer(await freePort());
  const temporalAddress = temporal.address;
  const connection = await Connection.connect({ address: temporalAddress });
  await ensureSearchAttributes(connection, 'default');
  await connection.close();

  project.provide('pgAdminUrl', pgAdminUrl);
  project.provide('pgTemplate', 'wysera_template');
  project.provide('temporalAddress', temporalAddress);

  return async () => {
    await temporal.stop();
    execFileSync('bash', [tools.pgScript, 'stop', pgData], { stdio: 'inherit' });
    rmSync(dir, { recursive: true, force: true });
  };
}
