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

/**
 * Runs `work` in db's transaction when db is one, else in a new one (with `config`):
 * a repository function that must be atomic joins its caller's transaction if any.
 */
export function inTransaction<T>(db: Db, work: (trx: Db) => Promise<T>, config?: Knex.TransactionConfig): Promise<T> {
  return 'isTransaction' in db && db.isTransaction ? work(db) : db.transaction(work, config);
}

/** A named prepared statement: Postgres parses and plans it once per connection. */
export interface PreparedStatement {
  name: string;
  text: string;
}

/** What knex's client offers to run a query outside its builder: its pool's (or a transaction's) connection. */
interface ConnectionSource {
  acquireConnection(): Promise<pg.Client>;
  releaseConnection(connection: pg.Client): Promise<unknown>;
}

/**
 * Runs a prepared statement on a connection of db's pool, or on the transaction's own
 * connection when db is one, without knex's query builder and runner. Only for
 * statements on a hot path: the webhook ingress inserts every Stripe event this way,
 * where knex cost about 50 µs of the API's CPU per event and Postgres re-planned the
 * statement each time. Errors are the pg driver's, as through knex.
 */
export async function runPrepared<Row extends pg.QueryResultRow>(db: Db, statement: PreparedStatement, values: unknown[]): Promise<Row[]> {
  const source = db.client as ConnectionSource;
  const connection = await source.acquireConnection();
  try {
    return (await connection.query<Row>({ name: statement.name, text: statement.text, values })).rows;
  } finally {
    await source.releaseConnection(connection);
  }
}

/** The events knex's connection pool (tarn) emits around each acquire, by the acquire's id. */
export interface PoolEvents {
  on(event: 'acquireRequest' | 'acquireSuccess' | 'acquireFail', listener: (eventId: number) => void): unknown;
}

/** db's connection pool, for watching its acquires (undefined when knex was given no pool of its own). */
export function poolEvents(db: Knex): PoolEvents | undefined {
  const { pool } = db.client as { pool?: Partial<PoolEvents> };
  return typeof pool?.on === 'function' ? (pool as PoolEvents) : undefined;
}
