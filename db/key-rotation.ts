import type { Db, Knex } from './knex';
import { appendAudit } from './audit';
import { emailHash, piiContext } from './customer-pii';
import { providerSecretContext } from './email-provider';
import { secretContext } from './workspaces';
import { userEmailContext, userEmailHash } from './users';
import { open, seal, sealedKeyId, type Keyring } from '../platform/crypto';

type Row = Record<string, unknown>;

/** A table with sealed columns: how to find its rows and each column's context. */
interface SealedTable {
  table: string;
  key: string[];
  columns: { name: string; context: (row: Row) => string }[];
  /** Columns derived from the opened values under the active key (the email hash). */
  derived?: { name: string; compute: (ring: Keyring, row: Row, opened: Record<string, string | null>) => string | null };
}

const str = (v: unknown) => String(v);

/** Every sealed value the database holds. A new sealed column belongs here too. */
export const SEALED_TABLES: readonly SealedTable[] = [
  {
    table: 'workspaces',
    key: ['id'],
    columns: [
      { name: 'stripe_key_ciphertext', context: (r) => secretContext(str(r.id), 'stripe_key') },
      { name: 'webhook_secret_ciphertext', context: (r) => secretContext(str(r.id), 'webhook_secret') },
    ],
  },
  {
    table: 'email_settings',
    key: ['workspace_id'],
    columns: [{ name: 'provider_secret_ciphertext', context: (r) => providerSecretContext(str(r.workspace_id)) }],
  },
  {
    table: 'stripe_customers',
    key: ['workspace_id', 'id'],
    columns: [
      { name: 'email', context: (r) => piiContext(str(r.workspace_id), str(r.id), 'email') },
      { name: 'name', context: (r) => piiContext(str(r.workspace_id), str(r.id), 'name') },
    ],
    derived: { name: 'email_hash', compute: (ring, r, opened) => (opened.email == null ? null : emailHash(ring, str(r.workspace_id), opened.email)) },
  },
  {
    table: 'users',
    key: ['id'],
    columns: [{ name: 'email', context: (r) => userEmailContext(str(r.id)) }],
    derived: { name: 'email_hash', compute: (ring, _r, opened) => (opened.email == null ? null : userEmailHash(ring, opened.email)) },
  },
];

/** Rows with a value sealed (or hashed) under a key other than the active one. */
function stale(db: Db, t: SealedTable, activeKeyId: string): Knex.QueryBuilder {
  return db(t.table).where((q) => {
    for (const c of t.columns) void q.orWhereRaw(`(?? is not null and split_part(??, '.', 2) <> ?)`, [c.name, c.name, activeKeyId]);
    if (t.derived) void q.orWhereRaw(`(?? is not null and split_part(??, '.', 1) <> ?)`, [t.derived.name, t.derived.name, activeKeyId]);
  });
}

export interface RotationReport {
  activeKeyId: string;
  resealed: Record<string, number>;
}

/**
 * Re-seals, in place, every value not under the ring's active key, batch by batch:
 * each batch is one short transaction over rows locked FOR UPDATE SKIP LOCKED, so
 * readers (which open any key in the ring) and writers carry on meanwhile. It loops
 * until no stale row is left, so rows written under an old key during the run are
 * caught too; every process should already hold the new ring (active key first).
 */
export async function rotateKeys(db: Knex, ring: Keyring, opts: { batchSize?: number; actor?: string; onBatch?: (table: string, count: number) => void } = {}): Promise<RotationReport> {
  const batchSize = opts.batchSize ?? 500;
  const resealed: Record<string, number> = {};
  for (const t of SEALED_TABLES) {
    let done = 0;
    for (;;) {
      const count = await db.transaction(async (trx) => {
        const rows = (await stale(trx, t, ring.activeKeyId).select('*').orderBy(t.key).limit(batchSize).forUpdate().skipLocked()) as Row[];
        for (const row of rows) {
          const opened: Record<string, string | null> = {};
          const update: Row = {};
          for (const c of t.columns) {
            const sealed = row[c.name];
            if (typeof sealed !== 'string') {
              opened[c.name] = null;
              continue;
            }
            const plain = open(ring, sealed, c.context(row));
            opened[c.name] = plain;
            if (sealedKeyId(sealed) !== ring.activeKeyId) update[c.name] = seal(ring, plain, c.context(row));
          }
          if (t.derived) update[t.derived.name] = t.derived.compute(ring, row, opened);
          await trx(t.table).where(Object.fromEntries(t.key.map((k) => [k, row[k]]))).update(update);
        }
        return rows.length;
      });
      if (count === 0) break;
      done += count;
      opts.onBatch?.(t.table, count);
    }
    resealed[t.table] = done;
  }
  await appendAudit(db, { workspaceId: null, actor: opts.actor ?? 'cli', action: 'keys.rotated', targetType: 'keyring', targetId: ring.activeKeyId, after: { activeKeyId: ring.activeKeyId, resealed } });
  return { activeKeyId: ring.activeKeyId, resealed };
}

/** How many values each table still holds under keys other than the active one. */
export async function staleSealedCounts(db: Db, ring: Keyring): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of SEALED_TABLES) {
    const row = (await stale(db, t, ring.activeKeyId).count<{ count: string | number }[]>('* as count'))[0];
    out[t.table] = Number(row?.count ?? 0);
  }
  return out;
}
