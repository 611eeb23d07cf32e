import { findSealedEmailProvider, openProvider } from '../db/email-provider';
import type { Db } from '../db/knex';
import { createProviderSender, type ProviderEndpoints } from '../email/provider-sender';
import type { EmailProviderConfig } from '../email/provider-config';
import type { EmailSender } from '../email/sender';
import type { Keyring } from '../platform/crypto';

export interface WorkspaceSendersDeps {
  db: Db;
  keyring: Keyring;
  /** The deployment's provider (from the environment), for workspaces without their own. */
  fallback: EmailSender;
  endpoints?: ProviderEndpoints;
  /** At most this many workspaces' senders are kept (default 1,000); the least recently used go first. */
  maxEntries?: number;
}

export interface WorkspaceSenders {
  /** The sender for this workspace: its own provider when configured, else the deployment's. */
  forWorkspace(workspaceId: string): Promise<EmailSender>;
}

/**
 * Senders per workspace, cached by workspace and sealed credentials. Each lookup
 * reads the sealed value (one row by primary key) and reuses the cached sender only
 * while it is unchanged: a new key, a removed provider, or a re-seal by
 * `keys rotate` (a new key id and IV in the value) opens and builds afresh.
 */
export function createWorkspaceSenders(deps: WorkspaceSendersDeps): WorkspaceSenders {
  const max = deps.maxEntries ?? 1000;
  const build = (config: EmailProviderConfig) => createProviderSender(config, deps.endpoints);
  const cache = new Map<string, { sealed: string; sender: EmailSender }>();
  return {
    async forWorkspace(workspaceId) {
      const sealed = await findSealedEmailProvider(deps.db, workspaceId);
      const hit = cache.get(workspaceId);
      cache.delete(workspaceId);
      if (sealed === undefined) return deps.fallback;
      const sender = hit?.sealed === sealed ? hit.sender : build(openProvider(deps.keyring, workspaceId, sealed));
      // Re-inserted last: the Map's order is the recency order.
      cache.set(workspaceId, { sealed, sender });
      if (cache.size > max) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      return sender;
    },
  };
}
