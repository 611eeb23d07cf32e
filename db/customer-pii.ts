import type { Db } from './knex';
import { keyedHash, keyedHashes, open, seal, type Keyring } from '../platform/crypto';

/**
 * Customer PII in the Stripe mirror (stripe_customers.email, .name) is sealed with
 * the keyring, bound to its workspace, customer and column; a keyed hash of the
 * email (email_hash) finds customers by email without decrypting every row.
 *
 * The hash key is derived (HKDF) from a keyring key, and the stored hash names that
 * key: `<keyId>.<hex>`. A lookup hashes the email under every key in the ring, so it
 * finds rows hashed under the old key and the new one while a rotation runs; the
 * rotation re-hashes each row under the active key as it re-seals it, after which
 * the old key can leave the ring. No separate lookup secret to manage or leak.
 */

export const piiContext = (workspaceId: string, customerId: string, field: 'email' | 'name') => `stripe_customer:${workspaceId}:${customerId}:${field}`;

/** Emails match case-insensitively and without surrounding blanks, as mail systems treat them. */
export const normalEmail = (email: string) => email.trim().toLowerCase();

const CUSTOMER_EMAIL_LOOKUP = 'wysera email lookup v1';

// The workspace is part of the input: one email in two workspaces hashes apart.
export const emailHash = (ring: Keyring, workspaceId: string, email: string, keyId = ring.activeKeyId): string =>
  keyedHash(ring, CUSTOMER_EMAIL_LOOKUP, `${workspaceId}\n${normalEmail(email)}`, keyId);

/** The hashes an email may be stored under: one per key in the ring. */
export const emailHashes = (ring: Keyring, workspaceId: string, email: string) => keyedHashes(ring, CUSTOMER_EMAIL_LOOKUP, `${workspaceId}\n${normalEmail(email)}`);

/** Seals a mirror customer row's email and name (with the email's hash) before it is written. */
export function sealCustomerPii<R extends { id: string } & Record<string, unknown>>(ring: Keyring, workspaceId: string, row: R): R & { email: string | null; name: string | null; email_hash: string | null } {
  const email = typeof row.email === 'string' ? row.email : null;
  const name = typeof row.name === 'string' ? row.name : null;
  return {
    ...row,
    email: email === null ? null : seal(ring, email, piiContext(workspaceId, row.id, 'email')),
    name: name === null ? null : seal(ring, name, piiContext(workspaceId, row.id, 'name')),
    email_hash: email === null ? null : emailHash(ring, workspaceId, email),
  };
}

export interface CustomerContact {
  id: string;
  email: string | null;
  name: string | null;
}

interface PiiRow {
  id: string;
  email: string | null;
  name: string | null;
}

/** A stripe_customers row's id, email and name, opened. */
export const openRow = (ring: Keyring, workspaceId: string, r: PiiRow): CustomerContact => ({
  id: r.id,
  email: r.email === null ? null : open(ring, r.email, piiContext(workspaceId, r.id, 'email')),
  name: r.name === null ? null : open(ring, r.name, piiContext(workspaceId, r.id, 'name')),
});

/** A mirrored customer's email and name, decrypted. */
export async function findCustomerContact(db: Db, ring: Keyring, workspaceId: string, customerId: string): Promise<CustomerContact | undefined> {
  const row = await db('stripe_customers').select('id', 'email', 'name').where({ workspace_id: workspaceId, id: customerId }).first<PiiRow | undefined>();
  return row && openRow(ring, workspaceId, row);
}

/** Mirrored customers' emails and names, decrypted, by customer id; ids not mirrored are left out. */
export async function findCustomerContacts(db: Db, ring: Keyring, workspaceId: string, customerIds: readonly string[]): Promise<Map<string, CustomerContact>> {
  const ids = [...new Set(customerIds)];
  if (ids.length === 0) return new Map();
  const rows = (await db('stripe_customers').select('id', 'email', 'name').where({ workspace_id: workspaceId }).whereIn('id', ids)) as PiiRow[];
  return new Map(rows.map((r) => [r.id, openRow(ring, workspaceId, r)]));
}

/** The workspace's mirrored customers with this email (any case), decrypted. */
export async function findCustomersByEmail(db: Db, ring: Keyring, workspaceId: string, email: string): Promise<CustomerContact[]> {
  const rows = await db('stripe_customers').select('id', 'email', 'name').where({ workspace_id: workspaceId }).whereIn('email_hash', emailHashes(ring, workspaceId, email)).orderBy('id');
  return (rows as PiiRow[]).map((r) => openRow(ring, workspaceId, r));
}
