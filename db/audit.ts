import { createHash } from 'node:crypto';
import { inTransaction, type Db, type Knex } from './knex';

/** One audited action: who did what to which target, with the state before and after. */
export interface AuditEntry {
  workspaceId: string | null;
  /** user:<id>, token:<id>, operator, or system:<component>. */
  actor: string;
  action: string;
  targetType: string;
  targetId?: string | null;
  before?: unknown;
  after?: unknown;
}

/** The audit action of a replaced webhook signing secret (the endpoint's summary reads its latest). */
export const WEBHOOK_SECRET_REPLACED = 'workspace.webhook_secret_replaced';

export interface AuditRecord extends Required<AuditEntry> {
  id: number;
  at: Date;
  prevHash: string | null;
  hash: string;
}

interface AuditRow {
  id: number;
  workspace_id: string | null;
  actor: string;
  action: string;
  target_type: string;
  target_id: string | null;
  before: unknown;
  after: unknown;
  at: Date;
  prev_hash: string | null;
  hash: string;
}

/** Entries of one workspace's chain (null: entries that belong to no workspace). */
function inWorkspace<Q extends Knex.QueryBuilder>(q: Q, workspaceId: string | null): Q {
  return (workspaceId === null ? q.whereNull('workspace_id') : q.where('workspace_id', workspaceId)) as Q;
}

/** JSON with object keys sorted, so the same content always hashes the same. */
function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function chainHash(prevHash: string | null, row: Omit<AuditRow, 'id' | 'hash' | 'prev_hash'>): string {
  return createHash('sha256')
    .update(prevHash ?? 'genesis')
    .update('\n')
    .update(canonical({ ...row, at: row.at.toISOString() }))
    .digest('hex');
}

const toRecord = (r: AuditRow): AuditRecord => ({
  id: r.id,
  workspaceId: r.workspace_id,
  actor: r.actor,
  action: r.action,
  targetType: r.target_type,
  targetId: r.target_id,
  before: r.before,
  after: r.after,
  at: r.at,
  prevHash: r.prev_hash,
  hash: r.hash,
});

/**
 * Appends an entry to the workspace's hash chain. Call it inside the transaction
 * that makes the change, so the change and its record commit together. Entries of
 * one workspace are serialised by a transaction-scoped advisory lock.
 */
export async function appendAudit(db: Db, entry: AuditEntry): Promise<AuditRecord> {
  const run = async (trx: Db) => {
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`audit:${entry.workspaceId ?? ''}`]);
    const last = await inWorkspace(trx<AuditRow>('audit_log').select('hash'), entry.workspaceId).orderBy('id', 'desc').first();
    const content = {
      workspace_id: entry.workspaceId,
      actor: entry.actor,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId ?? null,
      // Round-trip through JSON so what is hashed is exactly what jsonb gives back.
      before: entry.before === undefined ? null : (JSON.parse(JSON.stringify(entry.before)) as unknown),
      after: entry.after === undefined ? null : (JSON.parse(JSON.stringify(entry.after)) as unknown),
      at: new Date(),
    };
    const prevHash = last?.hash ?? null;
    const [row] = (await trx('audit_log')
      .insert({
        ...content,
        before: content.before === null ? null : JSON.stringify(content.before),
        after: content.after === null ? null : JSON.stringify(content.after),
        prev_hash: prevHash,
        hash: chainHash(prevHash, content),
      })
      .returning('*')) as AuditRow[];
    return toRecord(row!);
  };
  return inTransaction(db, run);
}

export interface AuditFilter {
  action?: string;
  actor?: string;
  targetType?: string;
  targetId?: string;
  since?: Date;
  until?: Date;
  limit?: number;
  /** Only entries with an id below this (for paging backwards). */
  beforeId?: number;
}

export async function listAudit(db: Db, workspaceId: string, f: AuditFilter = {}): Promise<AuditRecord[]> {
  const q = db<AuditRow>('audit_log').where({ workspace_id: workspaceId }).orderBy('id', 'desc').limit(f.limit ?? 100);
  if (f.action) void q.where({ action: f.action });
  if (f.actor) void q.where({ actor: f.actor });
  if (f.targetType) void q.where({ target_type: f.targetType });
  if (f.targetId) void q.where({ target_id: f.targetId });
  if (f.since) void q.where('at', '>=', f.since);
  if (f.until) void q.where('at', '<', f.until);
  if (f.beforeId) void q.where('id', '<', f.beforeId);
  return (await q).map(toRecord);
}

/**
 * Recomputes a workspace's chain from the start. Returns the first entry whose hash
 * or link does not match (a changed, inserted or removed row), or null if intact.
 */
export async function verifyAuditChain(db: Db, workspaceId: string | null): Promise<{ id: number; problem: string } | null> {
  let prevHash: string | null = null;
  let lastId = 0;
  for (;;) {
    const rows: AuditRow[] = await inWorkspace(db<AuditRow>('audit_log'), workspaceId)
      .where('id', '>', lastId)
      .orderBy('id')
      .limit(1000);
    if (rows.length === 0) return null;
    for (const r of rows) {
      if (r.prev_hash !== prevHash) return { id: r.id, problem: 'link to the previous entry does not match (an entry before it was removed or changed)' };
      const { id: _id, hash, prev_hash: _prev, ...content } = r;
      if (chainHash(prevHash, content) !== hash) return { id: r.id, problem: 'content does not match its hash (the entry was changed)' };
      prevHash = hash;
      lastId = r.id;
    }
  }
}
