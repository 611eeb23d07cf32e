import type { Db } from './knex';

/** The tables of the plays that write one email at a time to a customer (migrations 024-026). */
export type OutreachTable = 'churn_saves' | 'expansion_pitches' | 'renewal_notes';

/** The columns every outreach row has: its life from opened to ended. */
export interface OutreachRowBase {
  id: string;
  workspace_id: string;
  customer_id: string;
  workflow_id: string;
  started_at: Date;
  workflow_started_at: Date | null;
  outcome: string | null;
  ended_at: Date | null;
}

/** An outreach as its scan and workflow handle it, whatever else the play keeps. */
export interface Outreach {
  id: string;
  workspaceId: string;
  customerId: string;
  workflowId: string;
  startedAt: Date;
  workflowStartedAt: Date | null;
  endedAt: Date | null;
}

/**
 * The lifecycle queries of an outreach table: opened by its scan, started (its
 * workflow), ended once with an outcome. At most one is open per customer in each
 * table (a partial unique index), so the scans of several workers never start two.
 */
export function outreachRows<Row extends OutreachRowBase, T extends Outreach, Outcome extends string>(table: OutreachTable, fromRow: (r: Row) => T) {
  // Untyped: knex cannot narrow a where on a generic row type; rows come back as Row.
  const rows = (db: Db) => db(table);
  return {
    /** Open rows whose workflow the scan has not started yet (a scan stopped between the two, or the start failed). */
    unstarted: async (db: Db, workspaceId: string): Promise<T[]> => {
      return (await rows(db).where({ workspace_id: workspaceId }).whereNull('ended_at').whereNull('workflow_started_at').orderBy('started_at')).map((r: Row) => fromRow(r));
    },
    markStarted: async (db: Db, id: string): Promise<void> => {
      await db(table).where({ id }).whereNull('workflow_started_at').update({ workflow_started_at: db.fn.now() });
    },
    find: async (db: Db, id: string): Promise<T | undefined> => {
      const [row] = (await rows(db).where({ id }).limit(1)) as Row[];
      return row && fromRow(row);
    },
    /** Ends the workspace's open rows whose workflow never started (the play was turned off before it could). */
    closeUnstarted: async (db: Db, workspaceId: string, outcome: Outcome, at: Date): Promise<number> => {
      return db(table).where({ workspace_id: workspaceId }).whereNull('ended_at').whereNull('workflow_started_at').update({ outcome, ended_at: at });
    },
    /** Open rows whose workflow started before `before`: by then it should have ended. */
    overdue: async (db: Db, workspaceId: string, before: Date): Promise<T[]> => {
      return (await rows(db).where({ workspace_id: workspaceId }).whereNull('ended_at').where('workflow_started_at', '<', before).orderBy('started_at')).map((r: Row) => fromRow(r));
    },
    /** Ends an open row with its outcome, and answers it; one already ended keeps its first outcome (undefined). */
    close: async (db: Db, id: string, outcome: Outcome, at: Date): Promise<T | undefined> => {
      const [row] = (await db(table).where({ id }).whereNull('ended_at').update({ outcome, ended_at: at }).returning('*')) as Row[];
      return row && fromRow(row);
    },
    /** Whether the customer has a row open (its play is writing to them). */
    openFor: async (db: Db, workspaceId: string, customerId: string): Promise<boolean> => {
      const row = await rows(db).where({ workspace_id: workspaceId, customer_id: customerId }).whereNull('ended_at').first<{ id: string } | undefined>('id');
      return row !== undefined;
    },
    /** Whether one of the customer's rows ended with one of `outcomes` after `since` (their cooldown). */
    endedSince: async (db: Db, workspaceId: string, customerId: string, since: Date, outcomes: readonly Outcome[]): Promise<boolean> => {
      const row = await rows(db).where({ workspace_id: workspaceId, customer_id: customerId }).where('ended_at', '>', since).whereIn('outcome', [...outcomes]).first<{ id: string } | undefined>('id');
      return row !== undefined;
    },
    /** The workspace's latest rows, newest first (of one customer when given). */
    list: async (db: Db, workspaceId: string, opts: { customerId?: string; limit: number }): Promise<T[]> => {
      const q = rows(db).where({ workspace_id: workspaceId }).orderBy([{ column: 'started_at', order: 'desc' }, { column: 'id' }]).limit(opts.limit);
      if (opts.customerId) void q.where({ customer_id: opts.customerId });
      return (await q).map((r: Row) => fromRow(r));
    },
  };
}

export type OutreachRows<T extends Outreach, Outcome extends string> = ReturnType<typeof outreachRows<OutreachRowBase, T, Outcome>>;
