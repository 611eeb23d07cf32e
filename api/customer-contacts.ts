import { findCustomerContacts } from '../db/customer-pii';
import type { Knex } from '../db/knex';
import type { Keyring } from '../platform/crypto';

/**
 * Each row with its customer's name and email as the mirror holds them, just after its
 * id (so a CSV's columns read id, name, email): a list of ids alone says little to
 * whoever reads it. Null where Stripe has none, or the customer is not mirrored; the
 * response's redaction hides them from a role the workspace hides names or emails from.
 */
export async function withContacts<R extends { customerId: string }>(db: Knex, keyring: Keyring, workspaceId: string, rows: R[]) {
  const contacts = await findCustomerContacts(db, keyring, workspaceId, rows.map((r) => r.customerId));
  return rows.map(({ customerId, ...rest }) => ({ customerId, name: contacts.get(customerId)?.name ?? null, email: contacts.get(customerId)?.email ?? null, ...rest }));
}
