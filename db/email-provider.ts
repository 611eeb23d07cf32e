import type { Db } from './knex';
import { open, seal, type Keyring } from '../platform/crypto';
import { emailProviderSchema, keyHintOf, type EmailProviderConfig, type EmailProviderKind, type EmailProviderSummary } from '../email/provider-config';

export type { EmailProviderConfig, EmailProviderSummary } from '../email/provider-config';

/**
 * Storage of a workspace's own email provider: the credentials are sealed as one
 * value in email_settings.provider_secret_ciphertext; only the kind, the SES region
 * and a hint (the last four characters of the key) stay readable.
 */

/** AAD for the sealed credentials: binds them to their workspace's row and column. */
export const providerSecretContext = (workspaceId: string) => `email_settings:${workspaceId}:provider_secret`;

export interface ProviderColumns {
  provider_kind: EmailProviderKind | null;
  provider_region: string | null;
  provider_key_hint: string | null;
  provider_secret_ciphertext: string | null;
}

/** The email_settings columns of a workspace without its own provider. */
export const NO_PROVIDER: ProviderColumns = { provider_kind: null, provider_region: null, provider_key_hint: null, provider_secret_ciphertext: null };

/** The email_settings columns for a provider, with the credentials sealed. */
export function providerColumns(ring: Keyring, workspaceId: string, c: EmailProviderConfig): ProviderColumns {
  return {
    provider_kind: c.kind,
    provider_region: c.kind === 'ses' ? c.region : null,
    provider_key_hint: keyHintOf(c),
    provider_secret_ciphertext: seal(ring, JSON.stringify(c), providerSecretContext(workspaceId)),
  };
}

/** The summary stored in a row, without opening anything. */
export function summaryOfRow(row: Partial<ProviderColumns>): EmailProviderSummary | null {
  if (!row.provider_kind || !row.provider_key_hint) return null;
  return { kind: row.provider_kind, keyHint: row.provider_key_hint, ...(row.provider_region ? { region: row.provider_region } : {}) };
}

export interface StoredEmailProvider {
  config: EmailProviderConfig;
  /**
   * The sealed value it was opened from. It changes whenever the credentials are
   * replaced or re-sealed by a key rotation, so it can key a cache of senders.
   */
  sealed: string;
}

/** The workspace's sealed provider credentials, as stored; undefined when it uses the deployment's provider. */
export async function findSealedEmailProvider(db: Db, workspaceId: string): Promise<string | undefined> {
  const row = await db<{ workspace_id: string; provider_secret_ciphertext: string | null }>('email_settings').select('provider_secret_ciphertext').where({ workspace_id: workspaceId }).first();
  return row?.provider_secret_ciphertext ?? undefined;
}

/** The workspace's own provider, opened; undefined when it uses the deployment's provider. */
export async function findEmailProvider(db: Db, ring: Keyring, workspaceId: string): Promise<EmailProviderConfig | undefined> {
  const sealed = await findSealedEmailProvider(db, workspaceId);
  return sealed === undefined ? undefined : openProvider(ring, workspaceId, sealed);
}

export function openProvider(ring: Keyring, workspaceId: string, sealed: string): EmailProviderConfig {
  return emailProviderSchema.parse(JSON.parse(open(ring, sealed, providerSecretContext(workspaceId))));
}
