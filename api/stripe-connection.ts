import { Router } from 'express';
import { Client } from '@temporalio/client';
import { z } from 'zod';
import { ConnectRefused, validateConnection, type ConnectCheck } from '../activities/stripe-connect';
import type { StripeClients } from '../activities/stripe-client';
import { startSync } from '../activities/sync-start';
import { appendAudit, WEBHOOK_SECRET_REPLACED } from '../db/audit';
import type { Knex } from '../db/knex';
import { findWorkspace, findWorkspaceByStripeAccount, replaceStripeKey, replaceWebhookSecret } from '../db/workspaces';
import { checkStripeKey } from '../domain/stripe-keys';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';
import { runView } from './sync-view';
import type { WorkspacesRouterDeps } from './workspaces';

export const stripeKeyField = z.string().trim().min(1).max(500);
export const webhookSecretField = z.string().trim().regex(/^whsec_[A-Za-z0-9]+$/, 'must be a Stripe webhook signing secret (whsec_...)');
export const stripeAccountField = z.string().trim().regex(/^acct_[A-Za-z0-9]+$/, 'must be a Stripe account id (acct_...)');

/** The form of a key alone (no Stripe call): 400 naming the field when it is not one Wysera takes. */
export function keyFormOr400(stripeKey: string): { livemode: boolean; kind: 'restricted' | 'secret' } {
  const key = checkStripeKey(stripeKey);
  if (!key.ok) throw new HttpError(400, `stripeKey: ${key.message}`, { issues: [{ path: 'stripeKey', message: key.message }] });
  return key;
}

/**
 * Proves a key against Stripe before anything is stored (the same check for a new
 * workspace and for a replaced key): it reads, acts for `stripeAccount` when given,
 * and holds every permission Wysera needs (a recommended one it lacks is named in the
 * check, not refused). Refusals answer with ConnectRefused's status.
 */
export async function proveKey(stripe: StripeClients, stripeKey: string, stripeAccount: string | null | undefined, livemode: boolean): Promise<ConnectCheck> {
  try {
    return await validateConnection(stripe.forCandidate(stripeKey, stripeAccount, livemode).stripe);
  } catch (err) {
    if (err instanceof ConnectRefused) throw new HttpError(err.status, err.message, err.details);
    throw err;
  }
}

/** 409 when another workspace than `self` mirrors the Stripe account. */
export async function assertAccountFree(db: Knex, stripeAccount: string | null | undefined, self?: string): Promise<void> {
  if (!stripeAccount) return;
  const holder = await findWorkspaceByStripeAccount(db, stripeAccount);
  if (holder && holder.id !== self) throw new HttpError(409, `stripeAccount: ${stripeAccount} is already connected to another workspace`);
}

/** The answer to a unique-constraint race on the Stripe account (two requests at once). */
export function accountTaken(stripeAccount: string | null | undefined) {
  return (err: unknown): never => {
    if ((err as { code?: string }).code === '23505') throw new HttpError(409, `stripeAccount: ${stripeAccount ?? ''} is already connected to another workspace`);
    throw err;
  };
}

const keyReplacement = z.strictObject({
  stripeKey: stripeKeyField,
  /** Omitted: the account the workspace mirrors now. null: the key's own account (no Connect). */
  stripeAccount: stripeAccountField.nullable().optional(),
  /** Start a full sync once the key is stored; by default only when the workspace had no key. */
  sync: z.boolean().optional(),
});

const secretReplacement = z.strictObject({ webhookSecret: webhookSecretField });

const modeName = (livemode: boolean) => (livemode ? 'live' : 'test');

/**
 * A workspace's credentials after creation, for its owners: connect a Stripe key to a
 * workspace that has none, or replace one that was rolled or revoked; replace the
 * webhook signing secret when the endpoint's is rolled. Each is checked as at
 * creation, audited without the secret, and never returned.
 */
export function stripeConnectionRouter(deps: WorkspacesRouterDeps): Router {
  const router = Router();
  const client = new Client({ connection: deps.temporal, namespace: deps.namespace });

  router.put('/workspaces/:workspaceId/stripe-key', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const body = parseOr400(keyReplacement, req.body, 'Stripe key');
    const current = await findWorkspace(deps.db, auth.workspaceId);
    if (!current) throw new HttpError(404, `no workspace ${auth.workspaceId}`);
    const key = keyFormOr400(body.stripeKey);
    // The mirror, the analytics and the inbox hold one mode's and one account's data:
    // a key for another would mix two businesses' figures.
    if (key.livemode !== current.livemode) {
      throw new HttpError(409, `stripeKey: a ${modeName(key.livemode)}-mode key cannot replace the key of a ${modeName(current.livemode)}-mode workspace; connect it to a workspace of its own`);
    }
    const stripeAccount = body.stripeAccount === undefined ? current.stripeAccountId : body.stripeAccount;
    if (current.hasStripeKey && stripeAccount !== current.stripeAccountId) {
      throw new HttpError(
        409,
        `stripeAccount: the workspace mirrors ${current.stripeAccountId ?? "its key's own account"}; a key for ${stripeAccount ?? "a key's own account"} needs a workspace of its own`,
      );
    }
    await assertAccountFree(deps.db, stripeAccount, current.id);
    const check = await proveKey(deps.stripe, body.stripeKey, stripeAccount, key.livemode);
    const workspace = await deps.db
      .transaction(async (trx) => {
        const updated = await replaceStripeKey(trx, deps.keyring, current.id, { stripeKey: body.stripeKey, stripeAccountId: stripeAccount });
        if (!updated) throw new HttpError(404, `no workspace ${current.id}`);
        await appendAudit(trx, {
          workspaceId: current.id,
          actor: auth.actor,
          action: current.hasStripeKey ? 'workspace.stripe_key_replaced' : 'workspace.stripe_key_connected',
          targetType: 'workspace',
          targetId: current.id,
          before: { stripeAccountId: current.stripeAccountId, hasStripeKey: current.hasStripeKey },
          after: { stripeAccountId: updated.stripeAccountId, keyKind: key.kind, unverifiedPermissions: check.unverified, missingRecommendedPermissions: check.missingRecommended.map((m) => m.permission) },
        });
        return updated;
      })
      .catch(accountTaken(stripeAccount));
    // Plays waiting for a key (a webhook-only workspace's dunnings) find it at their next try.
    let sync = null;
    let syncError: string | null = null;
    if (body.sync ?? !current.hasStripeKey) {
      try {
        sync = await startSync({ db: deps.db, client, taskQueue: deps.taskQueue }, { workspaceId: current.id, mode: 'full', requestedBy: auth.actor });
      } catch (err) {
        // The key is stored either way; the sync can be started again.
        syncError = (err as Error).message;
      }
    }
    res.json({
      workspace,
      validation: check,
      sync: sync && runView(sync),
      ...(syncError ? { syncError } : {}),
    });
  });

  router.put('/workspaces/:workspaceId/webhook-secret', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const body = parseOr400(secretReplacement, req.body, 'webhook secret');
    const workspace = await deps.db.transaction(async (trx) => {
      const updated = await replaceWebhookSecret(trx, deps.keyring, auth.workspaceId, body.webhookSecret);
      if (!updated) throw new HttpError(404, `no workspace ${auth.workspaceId}`);
      await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: WEBHOOK_SECRET_REPLACED, targetType: 'workspace', targetId: auth.workspaceId });
      return updated;
    });
    res.json({ workspace });
  });

  return router;
}
