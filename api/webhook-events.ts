import { Router, type Response } from 'express';
import { z } from 'zod';
import type { Knex } from '../db/knex';
import { appendAudit, listAudit, WEBHOOK_SECRET_REPLACED } from '../db/audit';
import { countRunningSubscriptions } from '../db/mirror';
import { findWorkspace } from '../db/workspaces';
import { DAY_MS } from '../domain/durations';
import { SUBSCRIBED_EVENT_TYPES } from '../domain/event-types';
import { endpointWarnings } from '../domain/webhook-health';
import { endpointActivity, failingInboxPage, ignoreFailingInboxEvent, reapplySetAsideEvents, retryFailingInboxEvent, type FailingInboxEvent, type InboxStatus, type NotFailing } from '../db/inbox';
import type { Keyring } from '../platform/crypto';
import { actorName } from './actor-labels';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';

const failingQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  afterSeq: z.coerce.number().int().nonnegative().optional(),
});

/** What an owner does to a failing event (actOnFailing); `E`: what the change answers. */
interface FailingAction<E extends FailingInboxEvent> {
  /** For the 409: "only an undelivered event whose delivery has failed can be <done>". */
  done: string;
  action: string;
  /** The event's status once done. */
  status: InboxStatus;
  change: (db: Knex.Transaction, workspaceId: string, eventId: string) => Promise<E | NotFailing>;
  audit: (event: E) => { before: Record<string, unknown>; after: Record<string, unknown> };
}

/** The summary's window: a day of events. */
const SUMMARY_WINDOW_MS = DAY_MS;

const eventParams = z.object({ eventId: z.string().min(1).max(255) });

const noBody = z.strictObject({});

const giveUp = z.strictObject({
  /** Why the owner gives up on the event: kept in the audit log. */
  reason: z.string().trim().min(1).max(500),
});

/**
 * The workspace's webhook events the relay cannot deliver. A failed delivery is
 * retried (every minute at most) and holds back the customer's later events, so an
 * event that can never go (one the mirror cannot take, say) stops its customer's
 * mirror, analytics and plays. Owners see those events with their errors, may have one
 * tried again at once, and may give up on one: it is marked ignored, its error kept,
 * the customer's later events go on, its object is read again from Stripe behind them
 * (`rereadEventId`), and the audit log says who did it and why.
 */
export function webhookEventsRouter({ db, keyring }: { db: Knex; keyring: Keyring }): Router {
  const router = Router();

  /**
   * The endpoint at a glance: its path and the event types it must send, what
   * arrived in the last day by type, the API versions Stripe sends in, the backlog,
   * and warnings an owner can act on in Stripe (domain/webhook-health.ts).
   */
  router.get('/workspaces/:workspaceId/webhook-events/summary', requireWorkspaceRole('owner'), async (_req, res) => {
    const { workspaceId } = authOf(res);
    const workspace = await findWorkspace(db, workspaceId);
    if (!workspace) throw new HttpError(404, `no workspace ${workspaceId}`);
    const now = new Date();
    const since = new Date(now.getTime() - SUMMARY_WINDOW_MS);
    const activity = await endpointActivity(db, workspaceId, since);
    const runningSubscriptions = await countRunningSubscriptions(db, workspaceId);
    // The secret itself is never shown; when it was last replaced helps match it with Stripe's.
    const [replaced] = await listAudit(db, workspaceId, { action: WEBHOOK_SECRET_REPLACED, limit: 1 });
    res.json({
      endpointPath: `/webhooks/stripe/${encodeURIComponent(workspaceId)}`,
      eventTypes: SUBSCRIBED_EVENT_TYPES,
      signingSecret: { replacedAt: replaced?.at ?? null, replacedBy: replaced?.actor ?? null, replacedByName: await actorName(db, keyring, workspaceId, replaced?.actor ?? null) },
      // What the relay checks each event against (domain/event-ownership.ts); nothing without a key.
      mirrors: workspace.hasStripeKey ? { stripeAccountId: workspace.stripeAccountId, livemode: workspace.livemode } : null,
      since,
      ...activity,
      runningSubscriptions,
      warnings: endpointWarnings({ ...activity, now, runningSubscriptions }),
    });
  });

  router.get('/workspaces/:workspaceId/webhook-events/failing', requireWorkspaceRole('owner'), async (req, res) => {
    const page = parseOr400(failingQuery, req.query, 'query');
    // One more than asked for tells whether a next page exists, so the last page says so
    // even when it is full. `total` counts them all, this page's and the others'.
    const { events, total } = await failingInboxPage(db, authOf(res).workspaceId, { ...page, limit: page.limit + 1 });
    const shown = events.slice(0, page.limit);
    res.json({ events: shown, nextAfterSeq: events.length > page.limit ? shown[shown.length - 1]!.seq : null, total });
  });

  /**
   * Applies `act.change` to a failing event of the caller's workspace and audits it, in
   * one transaction, and answers the event as it is now; 404 for no such event in the
   * workspace, 409 for one that is not failing.
   */
  const actOnFailing = async <E extends FailingInboxEvent>(res: Response, eventId: string, act: FailingAction<E>): Promise<void> => {
    const auth = authOf(res);
    const changed = await db.transaction(async (trx) => {
      const result = await act.change(trx, auth.workspaceId, eventId);
      if (result === 'missing') throw new HttpError(404, `no webhook event ${eventId} in workspace ${auth.workspaceId}`);
      if (result === 'not_failing') throw new HttpError(409, `webhook event ${eventId} is not failing: only an undelivered event whose delivery has failed can be ${act.done}`);
      await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: act.action, targetType: 'webhook_event', targetId: eventId, ...act.audit(result) });
      return result;
    });
    res.json({ event: { ...changed, status: act.status } });
  };

  router.post('/workspaces/:workspaceId/webhook-events/:eventId/ignore', requireWorkspaceRole('owner'), async (req, res) => {
    const { eventId } = parseOr400(eventParams, req.params, 'path');
    const { reason } = parseOr400(giveUp, req.body, 'request body');
    await actOnFailing(res, eventId, {
      done: 'ignored',
      action: 'webhook_event.ignored',
      status: 'ignored',
      change: ignoreFailingInboxEvent,
      audit: (e) => ({ before: { status: 'pending', attempts: e.attempts, lastError: e.lastError }, after: { status: 'ignored', reason, rereadEventId: e.rereadEventId } }),
    });
  });

  // Once its cause is fixed (a product mapped, a fix deployed), an owner need not wait
  // out the retry delay. No body (one that is not JSON is refused before: jsonBodiesOnly).
  router.post('/workspaces/:workspaceId/webhook-events/:eventId/retry', requireWorkspaceRole('owner'), async (req, res) => {
    const { eventId } = parseOr400(eventParams, req.params, 'path');
    parseOr400(noBody, req.body ?? {}, 'request body');
    await actOnFailing(res, eventId, {
      done: 'retried',
      action: 'webhook_event.retried',
      status: 'pending',
      change: retryFailingInboxEvent,
      audit: (e) => ({ before: { attempts: e.attempts, lastError: e.lastError }, after: { nextAttemptAt: e.nextAttemptAt } }),
    });
  });

  // Events set aside as another account's or mode's stay kept, ignored. Once the
  // workspace mirrors what its endpoint sends (its key replaced with the right account's
  // or mode's), an owner has those that are now its own applied: the payments they
  // carry then reach the mirror and the plays, which a sync alone would not start.
  router.post('/workspaces/:workspaceId/webhook-events/set-aside/reapply', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    parseOr400(noBody, req.body ?? {}, 'request body');
    const done = await db.transaction(async (trx) => {
      const workspace = await findWorkspace(trx, auth.workspaceId);
      if (!workspace) throw new HttpError(404, `no workspace ${auth.workspaceId}`);
      // Without a key the workspace has no account or mode of its own, so every event would
      // pass the ownership check, another account's included.
      if (!workspace.hasStripeKey) {
        throw new HttpError(409, `workspace ${auth.workspaceId} has no Stripe key, so the account and mode its events must come from are not known: connect the key of the account they belong to (PUT /workspaces/${auth.workspaceId}/stripe-key), then apply them again`);
      }
      const reapplied = await reapplySetAsideEvents(trx, auth.workspaceId, workspace);
      const mirrors = { stripeAccountId: workspace.stripeAccountId, livemode: workspace.livemode, hasStripeKey: workspace.hasStripeKey };
      if (reapplied.requeued > 0) {
        await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: 'webhook_events.set_aside_reapplied', targetType: 'workspace', targetId: auth.workspaceId, after: { ...reapplied, mirrors } });
      }
      return reapplied;
    });
    res.json(done);
  });

  return router;
}
