import { openRow } from '../db/customer-pii';
import type { Db } from '../db/knex';
import { findWorkspace } from '../db/workspaces';
import { tenureMonths } from '../domain/plan-value';
import type { Keyring } from '../platform/crypto';

/** Who an outreach is from and to, as its templates cite them. */
export interface OutreachParties {
  company: { name: string };
  customer: { id: string; name: string; email: string | null; tenureMonths: number | null };
}

/**
 * The workspace's name and the customer as the mirror has them (name and email
 * decrypted, tenure from their Stripe `created`), in one read of each. A customer
 * with no name is greeted as "there".
 */
export async function outreachParties(db: Db, keyring: Keyring, workspaceId: string, customerId: string, now: Date): Promise<OutreachParties> {
  const [workspace, row] = await Promise.all([
    findWorkspace(db, workspaceId),
    db('stripe_customers').where({ workspace_id: workspaceId, id: customerId }).first<{ id: string; email: string | null; name: string | null; created: Date | null } | undefined>('id', 'email', 'name', 'created'),
  ]);
  const contact = row && openRow(keyring, workspaceId, row);
  return {
    company: { name: workspace?.name ?? workspaceId },
    customer: { id: customerId, name: contact?.name ?? 'there', email: contact?.email ?? null, tenureMonths: row?.created ? tenureMonths(row.created, now) : null },
  };
}
