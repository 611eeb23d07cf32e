import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

export type { Knex };
/** Every repository function takes this: the root handle or a transaction. */
export type Db = Knex | Knex.Transaction;

// bigint columns (money in minor units, ids) come back as strings by default; our
// amounts stay far below 2^53, so parse them as numbers and keep arithmetic exact.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createDb(databaseUrl: string, poolMax = 10): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: databaseUrl, application_name: 'wysera' },
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 10_000,
  });
}
