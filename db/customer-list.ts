import type { Db } from './knex';
import { CURRENT_MRR, movementsAhead } from './analytics';
import { churnRisks } from './churn-risk';
import { emailHashes, openRow, piiContext } from './customer-pii';
import { foldName, nameContains } from '../domain/customer-search';
import type { RiskLevel } from '../domain/churn-risk';
import { open, type Keyring } from '../platform/crypto';

/** One row of the customer list: who, and what they pay now (the reporting currency's minor units). */
export interface CustomerListing {
  customerId: string;
  name: string | null;
  email: string | null;
  mrr: number;
  /** The reporting currency the MRR is in; null for a customer analytics has not seen (MRR 0). */
  currency: string | null;
  cohortMonth: string | null;
  created: string | null;
  /** Their churn risk (domain/churn-risk.ts, reasons on their page); null without a live subscription. */
  risk: { score: number; level: RiskLevel } | null;
}

export interface CustomerListQuery {
  /** `mrr`: the biggest payers first; `newest`: the latest customers first; `risk`: the likeliest to leave first (then the newest). */
  sort: 'mrr' | 'newest' | 'risk';
  limit: number;
  offset: number;
  /** Only the customer(s) with this email (any case): found through its keyed hash, names and emails being sealed. */
  email?: string | undefined;
  /** Only customers whose Stripe id starts so. */
  idPrefix?: string | undefined;
  /** Only customers whose name contains this (domain/customer-search.ts); with `idPrefix`, those and the customers whose id starts so. */
  nameContains?: string | undefined;
}

/** `_` and `%` match anything in LIKE; a Stripe id's underscores must match only themselves. */
const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Names opened between two turns of the event loop: a big workspace's search does not hold up the API's other requests. */
const NAMES_PER_TURN = 2_000;

/**
 * The ids of the workspace's customers whose name contains `search`. Sealed names
 * cannot be matched in the database, so every named customer's is opened here: one
 * AES-GCM open each (bench/customer-search.ts measures a workspace's worth), a
 * chunk at a time. A name that cannot be opened (sealed under a key no longer in
 * the ring) matches nothing, and is counted: the caller reports it (a key left out of
 * WYSERA_ENCRYPTION_KEYS makes searches miss customers silently otherwise).
 */
async function customersNamed(db: Db, ring: Keyring, workspaceId: string, search: string): Promise<{ ids: string[]; unopened: number }> {
  const folded = foldName(search);
  if (!folded) return { ids: [], unopened: 0 };
  const rows = await db('stripe_customers').where({ workspace_id: workspaceId }).whereNotNull('name').select<{ id: string; name: string }[]>('id', 'name');
  const found: string[] = [];
  let unopened = 0;
  for (let start = 0; start < rows.length; start += NAMES_PER_TURN) {
    if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    for (const r of rows.slice(start, start + NAMES_PER_TURN)) {
      let name: string;
      try {
        name = open(ring, r.name, piiContext(workspaceId, r.id, 'name'));
      } catch {
        unopened++;
        continue;
      }
      if (nameContains(name, folded)) found.push(r.id);
    }
  }
  return { ids: found, unopened };
}

/**
 * A page of the workspace's mirrored customers with their MRR, and how many match in
 * all. Names and emails are opened for the page's rows only: sealed, they can be
 * neither sorted nor searched in the database, so the list sorts by MRR or by
 * creation and finds by exact email, id prefix or a piece of the name (which opens
 * every name: customersNamed).
 */
export async function listCustomers(db: Db, ring: Keyring, workspaceId: string, q: CustomerListQuery): Promise<{ total: number; customers: CustomerListing[]; unopenedNames: number }> {
  const byName = q.nameContains === undefined ? undefined : await customersNamed(db, ring, workspaceId, q.nameContains);
  const named = byName?.ids;
  const matching = () => {
    const query = db('stripe_customers as c').where('c.workspace_id', workspaceId);
    if (q.email !== undefined) void query.whereIn('c.email_hash', emailHashes(ring, workspaceId, q.email));
    void query.where((w) => {
      if (q.idPrefix !== undefined) void w.orWhereRaw(`c.id like ? escape '\\'`, [likePrefix(q.idPrefix)]);
      if (named !== undefined) void w.orWhereRaw('c.id = any(?::text[])', [named]);
    });
    return query;
  };
  const now = new Date();
  let total: number;
  let page: ReturnType<typeof matching>;
  let risks: Map<string, { score: number; level: RiskLevel }>;
  if (q.sort === 'risk') {
    // A risk is worked out from several tables and signals, not a column: every
    // matching customer's is, and the page is cut from them in that order.
    const all = await matching().orderBy([{ column: 'c.created', order: 'desc', nulls: 'last' }, { column: 'c.id' }]).select<{ id: string }[]>('c.id');
    // Found by a search: only what it found is scored.
    const searched = q.email !== undefined || q.idPrefix !== undefined || named !== undefined;
    risks = await churnRisks(db, workspaceId, now, searched ? all.map((r) => r.id) : undefined);
    const score = (id: string) => risks.get(id)?.score ?? -1;
    const ordered = all.map((r) => r.id).sort((a, b) => score(b) - score(a));
    total = ordered.length;
    const ids = ordered.slice(q.offset, q.offset + q.limit);
    page = matching().whereIn('c.id', ids).orderByRaw('array_position(?::text[], c.id)', [ids]);
  } else {
    const order =
      q.sort === 'mrr'
        ? [{ column: 'mrr', order: 'desc' as const }, { column: 'c.id' }]
        : [{ column: 'c.created', order: 'desc' as const, nulls: 'last' as const }, { column: 'c.id' }];
    const counted = await matching().count<{ n: string }[]>({ n: '*' });
    total = Number(counted[0]?.n ?? 0);
    page = matching().orderBy(order).limit(q.limit).offset(q.offset);
  }
  const rows = await page
    .leftJoin('analytics_customers as a', function () {
      this.on('a.workspace_id', 'c.workspace_id').andOn('a.customer_id', 'c.id');
    })
    .leftJoin(movementsAhead(db, workspaceId), 'ahead.customer_id', 'c.id')
    .select<{ id: string; email: string | null; name: string | null; mrr: string | number; currency: string | null; cohort_month: string | null; created: Date | null }[]>('c.id', 'c.email', 'c.name', db.raw(`${CURRENT_MRR} as mrr`), 'a.currency', 'a.cohort_month', 'c.created');
  if (q.sort !== 'risk') risks = await churnRisks(db, workspaceId, now, rows.map((r) => r.id));
  return {
    total,
    unopenedNames: byName?.unopened ?? 0,
    customers: rows.map((r) => {
      const { email, name } = openRow(ring, workspaceId, r);
      const risk = risks.get(r.id);
      return {
        customerId: r.id,
        name,
        email,
        mrr: Number(r.mrr),
        currency: r.currency?.trim() ?? null,
        cohortMonth: r.cohort_month,
        created: r.created ? r.created.toISOString() : null,
        risk: risk ? { score: risk.score, level: risk.level } : null,
      };
    }),
  };
}
