import { Router } from 'express';
import { recordNpsAnswer } from '../activities/analytics';
import type { Knex } from '../db/knex';
import { storeProductSignals, unmirroredCustomers } from '../db/product-signals';
import { npsAnswerBody, productSignalsBody } from '../domain/product-signals';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';
import { signalsRateLimit } from './hardening';

/** How many unmirrored customer ids an answer lists (the count is always whole). */
const LISTED_UNMIRRORED = 100;

/**
 * Product signals in (members and up, or their API tokens): usage, logins and support
 * tickets from the workspace's own product, in batches, and NPS answers one at a time. A request is taken whole or
 * not at all: a 400 names every signal that is wrong (`signals.3.quantity: ...`) and
 * stores none, so a sender fixes and resends the batch; signal ids make resending
 * safe. Customers the mirror does not hold yet are stored all the same (a sync may
 * not have brought them yet) and named in the answer, so a typo shows.
 *
 * Each caller (an API token, or a signed-in user) may send `requestsPerMinute`
 * requests a minute to these routes together (0: no limit); past it, 429 with Retry-After.
 */
export function signalsRouter({ db, requestsPerMinute, windowMs }: { db: Knex; requestsPerMinute: number; windowMs?: number }): Router {
  const router = Router();
  // After the guard, which establishes the caller it is keyed by (the actor is
  // `token:<id>` or `user:<id>`); before the handler validates and stores the batch.
  const limit = requestsPerMinute > 0 ? [signalsRateLimit(requestsPerMinute, (res) => authOf(res).actor, windowMs)] : [];

  router.post('/workspaces/:workspaceId/signals', requireWorkspaceRole('member'), ...limit, async (req, res) => {
    const { workspaceId } = authOf(res);
    const { signals } = parseOr400(productSignalsBody(new Date()), req.body, 'signals');
    const { stored, duplicates } = await storeProductSignals(db, workspaceId, signals);
    const unmirrored = await unmirroredCustomers(
      db,
      workspaceId,
      signals.map((s) => s.customerId),
    );
    res.json({ received: signals.length, stored, duplicates, unmirroredCustomers: { count: unmirrored.length, ids: unmirrored.slice(0, LISTED_UNMIRRORED) } });
  });

  router.post('/workspaces/:workspaceId/signals/nps', requireWorkspaceRole('member'), ...limit, async (req, res) => {
    const auth = authOf(res);
    const input = parseOr400(npsAnswerBody, req.body, 'NPS answer');
    const { id, duplicate, same } = await recordNpsAnswer(db, auth.workspaceId, { customerId: input.customerId, score: input.score, at: input.at ?? new Date() }, input.id);
    if (!same) throw new HttpError(409, `NPS answer id ${input.id ?? ''} is already another answer's (another customer or score): give each answer its own id`);
    res.status(duplicate ? 200 : 201).json({ id, customerId: input.customerId, score: input.score, ...(duplicate ? { duplicate: true } : {}) });
  });

  return router;
}
