import { Router } from 'express';
import { z } from 'zod';
import type { Knex } from '../db/knex';
import { appendAudit } from '../db/audit';
import { failingInboxEvents, ignoreFailingInboxEvent } from '../db/inbox';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';

const failingQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  afterSeq: z.coerce.number().int().nonnegative().optional(),
});

const eventParams = z.object({ eventId: z.string().min(1).max(255) });

const giveUp = z.strictObject({
  /** Why the owner gives up on the event: kept in the audit log. */
  reason: z.string().trim().min(1).max(500),
});

/**
 * The workspace's webhook events the relay cannot deliver. A failed delivery is
 * retried (every minute at most) and holds back the customer's later events, so an
 * event that can never go (one the mirror cannot take, say) stops its customer's
 * mirror, analytics and plays. Owners see those events with their errors, and may give
 * up on one: it is marked ignored, its error kept, the customer's later events go on,
 * and the audit log says who did it and why.
 */
export function webhookEventsRouter({ db }: { db: Knex }): Router {
  const router = Router();

  router.get('/workspaces/:workspaceId/webhook-events/failing', requireWorkspaceRole('owner'), async (req, res) => {
    const page = parseOr400(failingQuery, req.query, 'query');
    const events = await failingInboxEvents(db, authOf(res).workspaceId, page);
    // A full page may have more after it: the next page starts after its last event.
    res.json({ events, nextAfterSeq: events.length === page.limit ? events[events.length - 1]!.seq : null });
  });

  router.post('/workspaces/:workspaceId/webhook-events/:eventId/ignore', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const { eventId } = parseOr400(eventParams, req.params, 'path');
    const { reason } = parseOr400(giveUp, req.body, 'request body');
    const ignored = await db.transaction(async (trx) => {
      const result = await ignoreFailingInboxEvent(trx, auth.workspaceId, eventId);
      if (result === 'missing') throw new HttpError(404, `no webhook event ${eventId} in workspace ${auth.workspaceId}`);
      if (result === 'not_failing') throw new HttpError(409, `webhook event ${eventId} is not failing: only an undelivered event whose delivery has failed can be ignored`);
      await appendAudit(trx, {
        workspaceId: auth.workspaceId,
        actor: auth.actor,
        action: 'webhook_event.ignored',
        targetType: 'webhook_event',
        targetId: eventId,
        before: { status: 'pending', attempts: result.attempts, lastError: result.lastError },
        after: { status: 'ignored', reason },
      });
      return result;
    });
    res.json({ event: { ...ignored, status: 'ignored' } });
  });

  return router;
}
