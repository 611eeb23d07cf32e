import { randomBytes } from 'node:crypto';
import type { Db } from './knex';
import { open, seal, type Keyring } from '../platform/crypto';
import type { MirroredAccount } from '../domain/event-ownership';
import { parseWorkspaceSettings, type WorkspaceSettings } from '../domain/workspace-settings';

export interface Workspace {
  id: string;
  name: string;
  stripeAccountId: string | null;
  livemode: boolean;
  /** Whether a Stripe key is stored (a webhook-only workspace has none until one is connected). */
  hasStripeKey: boolean;
  createdAt: Date;
}

interface WorkspaceRow {
  id: string;
  name: string;
  stripe_account_id: string | null;
  livemode: boolean;
  stripe_key_ciphertext: string | null;
  webhook_secret_ciphertext: string | null;
  settings: unknown;
  created_at: Date;
  updated_at: Date;
}

const toWorkspace = (r: WorkspaceRow): Workspace => ({
  id: r.id,
  name: r.name,
  stripeAccountId: r.stripe_account_id,
  livemode: r.livemode,
  hasStripeKey: r.stripe_key_ciphertext !== null,
  createdAt: r.created_at,
});

/** AAD for a workspace secret: binds the ciphertext to its row and column. */
export const secretContext = (workspaceId: string, field: 'stripe_key' | 'webhook_secret') => `workspace:${workspaceId}:${field}`;

export function newWorkspaceId(): string {
  return `ws_${randomBytes(9).toString('base64url')}`;
}

export interface NewWorkspace {
  id?: string;
  name: string;
  stripeAccountId?: string | null;
  livemode?: boolean;
  stripeKey?: string | null;
  webhookSecret: string;
  settings?: Partial<WorkspaceSettings>;
}

export async function insertWorkspace(db: Db, ring: Keyring, input: NewWorkspace): Promise<Workspace> {
  const id = input.id ?? newWorkspaceId();
  const [row] = await db<WorkspaceRow>('workspaces')
    .insert({
      id,
      name: input.name,
      stripe_account_id: input.stripeAccountId ?? null,
      livemode: input.livemode ?? false,
      stripe_key_ciphertext: input.stripeKey ? seal(ring, input.stripeKey, secretContext(id, 'stripe_key')) : null,
      webhook_secret_ciphertext: seal(ring, input.webhookSecret, secretContext(id, 'webhook_secret')),
      settings: JSON.stringify(input.settings ?? {}),
    })
    .returning('*');
  return toWorkspace(row!);
}

export async function findWorkspace(db: Db, id: string): Promise<Workspace | undefined> {
  const row = await db<WorkspaceRow>('workspaces').where({ id }).first();
  return row && toWorkspace(row);
}

/** The account and mode each workspace mirrors, by id, in one query (ids of no workspace are left out). */
export async function mirroredAccounts(db: Db, ids: readonly string[]): Promise<Map<string, MirroredAccount>> {
  if (ids.length === 0) return new Map();
  const rows = await db<WorkspaceRow>('workspaces')
    .whereIn('id', [...ids])
    .select<{ id: string; stripe_account_id: string | null; livemode: boolean; has_key: boolean }[]>('id', 'stripe_account_id', 'livemode', db.raw('stripe_key_ciphertext is not null as has_key'));
  return new Map(rows.map((r) => [r.id, { stripeAccountId: r.stripe_account_id, livemode: r.livemode, hasStripeKey: r.has_key }] as const));
}

/** The webhook signing secret of a workspace, or undefined when there is no such workspace. */
export async function findWebhookSecret(db: Db, ring: Keyring, id: string): Promise<string | undefined> {
  const row = await db<WorkspaceRow>('workspaces').select('webhook_secret_ciphertext').where({ id }).first();
  if (!row?.webhook_secret_ciphertext) return undefined;
  return open(ring, row.webhook_secret_ciphertext, secretContext(id, 'webhook_secret'));
}

/** What the Stripe side of a workspace needs: the opened key, the Connect account, the mode and settings. */
export interface WorkspaceStripe {
  workspaceId: string;
  apiKey: string;
  stripeAccountId: string | null;
  livemode: boolean;
  settings: WorkspaceSettings;
}

/** The workspace's Stripe key and settings, or undefined when there is no such workspace (or no key). */
export async function findWorkspaceStripe(db: Db, ring: Keyring, id: string): Promise<WorkspaceStripe | undefined> {
  const row = await db<WorkspaceRow>('workspaces')
    .select('stripe_key_ciphertext', 'stripe_account_id', 'livemode', 'settings')
    .where({ id })
    .first();
  if (!row?.stripe_key_ciphertext) return undefined;
  return {
    workspaceId: id,
    apiKey: open(ring, row.stripe_key_ciphertext, secretContext(id, 'stripe_key')),
    stripeAccountId: row.stripe_account_id,
    livemode: row.livemode,
    settings: parseWorkspaceSettings(row.settings),
  };
}

/**
 * Stores a new Stripe key (and the Connect account it acts for) in place of the
 * workspace's key, or as its first. Returns the workspace, or undefined for no such
 * workspace.
 */
export async function replaceStripeKey(db: Db, ring: Keyring, id: string, key: { stripeKey: string; stripeAccountId: string | null }): Promise<Workspace | undefined> {
  const [row] = await db<WorkspaceRow>('workspaces')
    .where({ id })
    .update({ stripe_key_ciphertext: seal(ring, key.stripeKey, secretContext(id, 'stripe_key')), stripe_account_id: key.stripeAccountId, updated_at: db.fn.now() })
    .returning('*');
  return row && toWorkspace(row);
}

/** Stores a new webhook signing secret in place of the workspace's. Returns the workspace, or undefined for no such workspace. */
export async function replaceWebhookSecret(db: Db, ring: Keyring, id: string, webhookSecret: string): Promise<Workspace | undefined> {
  const [row] = await db<WorkspaceRow>('workspaces')
    .where({ id })
    .update({ webhook_secret_ciphertext: seal(ring, webhookSecret, secretContext(id, 'webhook_secret')), updated_at: db.fn.now() })
    .returning('*');
  return row && toWorkspace(row);
}

export async function findWorkspaceSettings(db: Db, id: string): Promise<WorkspaceSettings | undefined> {
  const row = await db<WorkspaceRow>('workspaces').select('settings').where({ id }).first();
  return row && parseWorkspaceSettings(row.settings);
}

export async function findWorkspaceByStripeAccount(db: Db, stripeAccountId: string): Promise<Workspace | undefined> {
  const row = await db<WorkspaceRow>('workspaces').where({ stripe_account_id: stripeAccountId }).first();
  return row && toWorkspace(row);
}

/**
 * Merges `patch` into the workspace's settings; a null value removes the key (back
 * to its default). Returns the resulting settings, or undefined for no such workspace.
 */
export async function updateWorkspaceSettings(db: Db, id: string, patch: Record<string, unknown>): Promise<WorkspaceSettings | undefined> {
  const set = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== null && v !== undefined));
  const remove = Object.entries(patch)
    .filter(([, v]) => v === null)
    .map(([k]) => k);
  const rows = await db('workspaces')
    .where({ id })
    .update({ settings: db.raw('(settings || ?::jsonb) - ?::text[]', [JSON.stringify(set), remove]), updated_at: db.fn.now() })
    .returning<{ settings: unknown }[]>('settings');
  return rows[0] && parseWorkspaceSettings(rows[0].settings);
}
