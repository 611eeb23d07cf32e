import { Router } from 'express';
import { recordNpsAnswer } from '../activities/analytics';
import type { Knex } from '../db/knex';
import { appendAudit } from '../db/audit';
import { deleteProductSignal, signalOf, storeProductSignals, unmirroredCustomers } from '../db/product-signals';
import { npsAnswerBody, productSignalsBody, senderText } from '../domain/product-signals';
import { DAY_MS } from '../domain/durations';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';
import { signalsRateLimit } from './hardening';

/** How many ids (unmirrored customers, conflicts) an answer lists (the counts are always whole). */
const LISTED_IDS = 100;

/**
 * Product signals in (members and up, or their API tokens): usage, logins and support
 * tickets from the workspace's own product, in batches, and NPS answers one at a time. A request is taken whole or
 * not at all: a 400 names every signal that is wrong (`signals.3.quantity: ...`) and
 * stores none, so a sender fixes and resends the batch; signal ids make resending
 * safe. Customers the mirror does not hold yet are stored all the same (a sync may
 * not have brought them yet) and named in the answer, so a typo shows. A signal sent
 * again under its id with something else is a conflict, named in the answer, unless the
 * request says `replace` (a correction, audited); one sent by mistake is deleted.
 *
 * Each caller (an API token, or a signed-in user) may send `requestsPerMinute`
 * requests a minute to these routes together (0: no limit); past it, 429 with Retry-After.
 */
export function signalsRouter({ db, requestsPerMinute, windowMs, retentionDays = 0 }: { db: Knex; requestsPerMinute: number; windowMs?: number; retentionDays?: number }): Router {
  const router = Router();
  // After the guard, which establishes the caller it is keyed by (the actor is
  // `token:<id>` or `user:<id>`); before the handler validates and stores the batch.
  const limit = requestsPerMinute > 0 ? [signalsRateLimit(requestsPerMinute, (res) => authOf(res).actor, windowMs)] : [];

  router.post('/workspaces/:workspaceId/signals', requireWorkspaceRole('member'), ...limit, async (req, res) => {
    const { workspaceId, actor } = authOf(res);
    const now = new Date();
    const { signals, replace = false } = parseOr400(productSignalsBody(now), req.body, 'signals');
    const { stored, written, duplicates, conflicts, replaced } = await storeProductSignals(db, workspaceId, signals, { replace }, async (trx, before) => {
      // A correction changes what the plays cite and weigh: who made it, and what it overwrote.
      const sent = new Map(signals.map((s) => [s.id, s]));
      await appendAudit(trx, { workspaceId, actor, action: 'product_signals.replaced', targetType: 'product_signals', before: before.map(signalOf), after: before.map((b) => sent.get(b.signal_id)) });
    });
    const unmirrored = await unmirroredCustomers(
      db,
      workspaceId,
      signals.map((s) => s.customerId),
    );
    // Signals older than the worker keeps are stored, but only a customer's latest of a kind outlives its next retention run: a backfill hears so.
    // Counted of what this request wrote: a duplicate was counted when first sent, and a conflict changed nothing.
    const cutoff = retentionDays > 0 ? now.getTime() - retentionDays * DAY_MS : null;
    const at = new Map(signals.map((s) => [s.id, s.at.getTime()]));
    res.json({
      received: signals.length,
      stored,
      duplicates,
      pastRetention: cutoff === null ? 0 : written.filter((id) => at.get(id)! < cutoff).length,
      ...(replace ? { replaced: replaced.length } : { conflicts: { count: conflicts.length, ids: conflicts.slice(0, LISTED_IDS) } }),
      unmirroredCustomers: { count: unmirrored.length, ids: unmirrored.slice(0, LISTED_IDS) },
    });
  });

  // A signal that should not be there at all (sent for the wrong customer, or twice under two ids).
  router.delete('/workspaces/:workspaceId/signals/:signalId', requireWorkspaceRole('member'), ...limit, async (req, res) => {
    const { workspaceId, actor } = authOf(res);
    const signalId = parseOr400(senderText(), req.params.signalId, 'signal id');
    const deleted = await db.transaction(async (trx) => {
      const row = await deleteProductSignal(trx, workspaceId, signalId);
      if (row) await appendAudit(trx, { workspaceId, actor, action: 'product_signal.deleted', targetType: 'product_signal', targetId: signalId, before: signalOf(row) });
      return row;
    });
    if (!deleted) throw new HttpError(404, `no product signal with id ${JSON.stringify(signalId.slice(0, 255))} in this workspace`);
    res.json({ deleted: signalOf(deleted) });
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
