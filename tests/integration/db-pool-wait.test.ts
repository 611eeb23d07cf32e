import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Knex } from '../../db/knex';
import { createMetrics, observePoolWaits } from '../../platform/metrics';
import { freshDatabase } from '../helpers/db';

describe('the pool wait metric', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let db: Knex;
  beforeAll(async () => {
    database = await freshDatabase();
    // One connection, so a second query must queue for it.
    db = createDb(database.url, 1);
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it('times how long a query queued for a connection, apart from the query itself', async () => {
    const metrics = createMetrics();
    observePoolWaits(metrics, db, 'api');
    let waiting: Promise<void> | undefined;
    await db.transaction(async (trx) => {
      // Started (a knex query runs when its promise is asked for), then queued: the
      // transaction holds the only connection for 200 ms.
      waiting = db.raw('select 1').then(() => undefined);
      await sleep(200);
      await trx.raw('select 1');
    });
    await waiting;
    const values = (await metrics.dbPoolWaitSeconds.get()).values;
    // Under the pool's name: the worker's two pools report apart in one scrape.
    const of = (name: string) => values.find((v) => v.metricName === name && v.labels.pool === 'api')?.value;
    const count = of('wysera_db_pool_wait_seconds_count');
    const sum = of('wysera_db_pool_wait_seconds_sum') ?? 0;
    // Two acquires: the transaction's (no wait) and the query's (the 200 ms).
    expect(count).toBe(2);
    expect(sum).toBeGreaterThanOrEqual(0.19);
    expect(sum).toBeLessThan(5);
  });
});
