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

/** A statement as knex sent it: Postgres's $n placeholders, and the values bound to them. */
export interface SentStatement {
  sql: string;
  bindings: readonly unknown[];
}

/** Runs `work` and returns its result with every statement it sent through `db`, in order. */
export async function statementsOf<T>(db: Knex, work: () => Promise<T>): Promise<{ result: T; statements: SentStatement[] }> {
  const statements: SentStatement[] = [];
  const onQuery = (q: { sql: string; bindings?: readonly unknown[] }) => statements.push({ sql: q.sql, bindings: q.bindings ?? [] });
  db.on('query', onQuery);
  try {
    return { result: await work(), statements };
  } finally {
    db.off('query', onQuery);
  }
}

/** A node of a plan from `explain (analyze, buffers, format json)`, with what the tests read. */
export interface PlanNode {
  'Index Name'?: string;
  'Shared Hit Blocks': number;
  'Shared Read Blocks': number;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

/** The plan of a statement as Postgres runs it now, with its actual figures (it runs the statement). */
export async function planOf(db: Knex, statement: SentStatement): Promise<PlanNode> {
  // The statement as sent has Postgres's $n placeholders, each used once and in order.
  const sql = statement.sql.replace(/\$\d+/g, '?');
  const explained = await db.raw<{ rows: { 'QUERY PLAN': { Plan: PlanNode }[] }[] }>(`explain (analyze, buffers, format json) ${sql}`, [...statement.bindings] as Knex.RawBinding[]);
  return explained.rows[0]!['QUERY PLAN'][0]!.Plan;
}
