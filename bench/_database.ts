/**
 * The database of a benchmark: a throwaway Postgres cluster with a migrated
 * `wysera_bench` database. Set up before anything starts, so that an interrupt at any
 * point stops what is up by then (bench/_interrupt.ts): `also`, what the benchmark
 * started besides, then the pool and the cluster. `stop` does the same at the end.
 */
import { createDb, type Knex } from '../db/knex';
import { migrationConfig } from '../db/migrations';
import { startThrowawayPostgres } from '../tests/setup/postgres';
import { stopOnInterrupt } from './_interrupt';

export function benchDatabase(poolMax: number, also?: () => Promise<void>): { open(): Promise<Knex>; stop(): Promise<void> } {
  let pg: Awaited<ReturnType<typeof startThrowawayPostgres>> | undefined;
  let db: Knex | undefined;
  const { stop } = stopOnInterrupt(async () => {
    await also?.();
    await db?.destroy();
    await pg?.stop();
  });
  return {
    async open() {
      pg = await startThrowawayPostgres('wysera-bench-');
      const admin = createDb(pg.adminUrl, 1);
      await admin.raw('create database wysera_bench');
      await admin.destroy();
      db = createDb(pg.urlOf('wysera_bench'), poolMax);
      await db.migrate.latest(migrationConfig);
      return db;
    },
    stop,
  };
}
