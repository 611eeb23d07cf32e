import { Router, type Response } from 'express';
import { Client, type Connection } from '@temporalio/client';
import { z } from 'zod';
import type { StripeClients } from '../activities/stripe-client';
import { startSync, WorkspaceNotFound } from '../activities/sync-start';
import { createApiToken } from '../db/api-tokens';
import { appendAudit } from '../db/audit';
import type { Knex } from '../db/knex';
import { effectiveMapping, mappingParts, replaceOverrides } from '../db/product-mapping';
import { findSyncRun, latestSyncRun, SyncAlreadyRunning, syncProgress, type SyncRun } from '../db/sync';
import { findWorkspace, findWorkspaceSettings, insertWorkspace, newWorkspaceId, updateWorkspaceSettings } from '../db/workspaces';
import { applyOverrides, LIMIT_METRIC, overrideProblems } from '../domain/product-mapping';
import { workflowHasEnded } from '../domain/sync-liveness';
import { estimateResource, overallEta } from '../domain/sync-progress';
import { workspaceSettingsSchema } from '../domain/workspace-settings';
import type { Keyring } from '../platform/crypto';
import { authOf, requireOperator, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';
import { accountTaken, assertAccountFree, keyFormOr400, proveKey, stripeAccountField, stripeKeyField, webhookSecretField } from './stripe-connection';
import { syncLiveness } from './sync-liveness';
import { actorName } from './actor-labels';
import { runView } from './sync-view';

export interface WorkspacesRouterDeps {
  db: Knex;
  keyring: Keyring;
  stripe: StripeClients;
  temporal: Connection;
  namespace: string;
  taskQueue: string;
}

const newWorkspace = z.strictObject({
  name: z.string().trim().min(1).max(200),
  stripeKey: stripeKeyField,
  webhookSecret: webhookSecretField,
  stripeAccount: stripeAccountField.optional(),
  settings: workspaceSettingsSchema.partial().strict().optional(),
  /** Start the first sync at once (default). */
  sync: z.boolean().default(true),
});

const syncRequest = z
  .strictObject({
    mode: z.enum(['full', 'since']).default('full'),
    since: z.iso
      .datetime({ offset: true })
      .transform((s) => new Date(s))
      .optional(),
  })
  .refine((b) => b.mode !== 'since' || b.since, { path: ['since'], message: 'is required when mode is "since"' })
  .refine((b) => !b.since || b.since.getTime() <= Date.now(), { path: ['since'], message: 'must not be in the future' });

const settingsPatch = z
  .strictObject({
    historyMonths: z.number().int().min(1).max(120).optional(),
    /** null goes back to the mode's default (20 test, 80 live). */
    stripeRateLimitRps: z.number().positive().max(1000).nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'give at least one of historyMonths, stripeRateLimitRps' });

const limitsSchema = z.record(z.string().regex(LIMIT_METRIC, 'metric names are lower-case letters, digits and _'), z.number().int().nonnegative().nullable());

const mappingBody = z.strictObject({
  products: z
    .array(
      z.strictObject({
        productId: z.string().min(1).max(255),
        planName: z.string().trim().min(1).max(200),
        tierRank: z.number().int().min(1).max(10_000),
        limits: limitsSchema.default({}),
      }),
    )
    .max(1000),
});

/** Answers a refused sync start with the HTTP status that says why. */
function syncStartError(err: unknown): never {
  if (err instanceof SyncAlreadyRunning) throw new HttpError(409, err.message, { runId: err.run.id });
  if (err instanceof WorkspaceNotFound) throw new HttpError(404, err.message);
  throw new HttpError(503, `the sync could not be started: ${(err as Error).message}`);
}

/**
 * Workspaces: creation (operator only) validates the Stripe key before storing
 * anything; sync progress and re-sync; the product mapping.
 */
export function workspacesRouter(deps: WorkspacesRouterDeps): Router {
  const router = Router();
  const client = new Client({ connection: deps.temporal, namespace: deps.namespace });
  const syncDeps = { db: deps.db, client, taskQueue: deps.taskQueue };

  router.post('/workspaces', requireOperator, async (req, res) => {
    const body = parseOr400(newWorkspace, req.body, 'workspace');
    const key = keyFormOr400(body.stripeKey);
    await assertAccountFree(deps.db, body.stripeAccount);
    const check = await proveKey(deps.stripe, body.stripeKey, body.stripeAccount, key.livemode);
    const id = newWorkspaceId();
    const created = await deps.db
      .transaction(async (trx) => {
        const workspace = await insertWorkspace(trx, deps.keyring, {
          id,
          name: body.name,
          stripeAccountId: body.stripeAccount ?? null,
          livemode: key.livemode,
          stripeKey: body.stripeKey,
          webhookSecret: body.webhookSecret,
          settings: body.settings ?? {},
        });
        // The first owner token: without it nobody could use the workspace's routes.
        const token = await createApiToken(trx, { workspaceId: id, role: 'owner', name: 'first owner (created with the workspace)', createdBy: 'operator' });
        await appendAudit(trx, {
          workspaceId: id,
          actor: 'operator',
          action: 'workspace.created',
          targetType: 'workspace',
          targetId: id,
          after: { name: workspace.name, stripeAccountId: workspace.stripeAccountId, livemode: workspace.livemode, keyKind: key.kind, unverifiedPermissions: check.unverified, missingRecommendedPermissions: check.missingRecommended.map((m) => m.permission) },
        });
        return { workspace, token };
      })
      .catch(accountTaken(body.stripeAccount));
    let sync: ReturnType<typeof runView> | null = null;
    let syncError: string | null = null;
    if (body.sync) {
      try {
        sync = runView(await startSync(syncDeps, { workspaceId: id, mode: 'full', requestedBy: 'operator' }));
      } catch (err) {
        // The workspace is complete without its first sync; it can be started again.
        syncError = (err as Error).message;
      }
    }
    res.status(201).json({
      workspace: { ...created.workspace, settings: workspaceSettingsSchema.parse(body.settings ?? {}) },
      ownerToken: created.token.token,
      validation: check,
      sync,
      ...(syncError ? { syncError } : {}),
    });
  });

  router.get('/workspaces/:workspaceId', requireWorkspaceRole('viewer'), async (_req, res) => {
    const id = authOf(res).workspaceId;
    const workspace = await findWorkspace(deps.db, id);
    if (!workspace) throw new HttpError(404, `no workspace ${id}`);
    res.json({ ...workspace, settings: await findWorkspaceSettings(deps.db, id) });
  });

  router.patch('/workspaces/:workspaceId/settings', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const patch = parseOr400(settingsPatch, req.body, 'settings');
    const settings = await deps.db.transaction(async (trx) => {
      const before = await findWorkspaceSettings(trx, auth.workspaceId);
      const after = await updateWorkspaceSettings(trx, auth.workspaceId, patch);
      if (!after) throw new HttpError(404, `no workspace ${auth.workspaceId}`);
      await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: 'workspace.settings_updated', targetType: 'workspace', targetId: auth.workspaceId, before, after });
      return after;
    });
    // The workers pick the new rate up when their next Stripe call for the workspace starts.
    res.json({ settings });
  });

  const progressOf = async (res: Response) => {
    const id = authOf(res).workspaceId;
    const run = await latestSyncRun(deps.db, id);
    if (!run) return { run: null, resources: [], etaSeconds: null, liveness: null };
    const now = new Date();
    const progress = await syncProgress(deps.db, run.id);
    const resources = progress.map((p) => estimateResource(p, now, run.windowStart));
    const liveness = run.status === 'running' ? await syncLiveness(client, deps.taskQueue, run, progress, now) : null;
    // A workflow found ended may just have closed its run after the run was read.
    const closed = liveness && !('error' in liveness.temporal) && workflowHasEnded(liveness.temporal.workflowStatus) ? await findSyncRun(deps.db, run.id) : undefined;
    // Who started it, as the page names them (api/actor-labels.ts).
    const named = async (r: SyncRun) => ({ ...runView(r), requestedByName: await actorName(deps.db, deps.keyring, id, r.requestedBy, authOf(res).role) });
    if (closed && closed.status !== 'running') return { run: await named(closed), resources, etaSeconds: 0, liveness: null };
    return { run: await named(run), resources, etaSeconds: liveness ? overallEta(resources) : 0, liveness };
  };

  router.get('/workspaces/:workspaceId/sync', requireWorkspaceRole('viewer'), async (_req, res) => {
    res.json(await progressOf(res));
  });

  router.post('/workspaces/:workspaceId/sync', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const body = parseOr400(syncRequest, req.body ?? {}, 'sync request');
    const run = await startSync(syncDeps, { workspaceId: auth.workspaceId, mode: body.mode, since: body.since, requestedBy: auth.actor }).catch(syncStartError);
    await appendAudit(deps.db, { workspaceId: auth.workspaceId, actor: auth.actor, action: 'sync.started', targetType: 'sync_run', targetId: run.id, after: { mode: run.mode, windowStart: run.windowStart } });
    res.status(202).json(runView(run));
  });

  router.get('/workspaces/:workspaceId/product-mapping', requireWorkspaceRole('viewer'), async (_req, res) => {
    res.json({ products: await effectiveMapping(deps.db, authOf(res).workspaceId) });
  });

  router.put('/workspaces/:workspaceId/product-mapping', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const body = parseOr400(mappingBody, req.body, 'product mapping');
    const mapping = await deps.db.transaction(async (trx) => {
      // Serialise concurrent edits of one workspace's mapping.
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`product-mapping:${auth.workspaceId}`]);
      const { defaults, overrides: before } = await mappingParts(trx, auth.workspaceId);
      const problems = overrideProblems(defaults, body.products);
      if (problems.length) {
        throw new HttpError(400, `invalid product mapping: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { issues: problems });
      }
      await replaceOverrides(trx, auth.workspaceId, body.products, auth.actor);
      await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: 'product_mapping.updated', targetType: 'product_mapping', targetId: auth.workspaceId, before, after: body.products });
      return applyOverrides(defaults, body.products);
    });
    res.json({ products: mapping });
  });

  return router;
}
