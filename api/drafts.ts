import { Router } from 'express';
import { Client, type Connection } from '@temporalio/client';
import { z } from 'zod';
import { DraftTransitionError, findDraft, listDrafts, transitionDraft, type Draft } from '../db/drafts';
import type { Knex } from '../db/knex';
import { factsAsShown } from '../domain/churn-save';
import { DRAFT_STATUSES } from '../domain/drafts';
import { hideActivityFacts, hideCitedActivity, hideCitedAmounts, HIDDEN_AMOUNT, HIDDEN_FACT, redact, REVENUE_HIDDEN } from '../domain/redaction';
import type { Logger } from '../platform/logger';
import { draftDecisionSignal, type DraftDecision } from '../workflows/play-messages';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';
import { findSend, sendKeyOf, shownRefusal } from '../db/sends';
import { redactionOf } from './redaction';

export const PLAYS = ['dunning', 'renewal', 'churn', 'expansion'] as const;

export interface DraftsRouterDeps {
  db: Knex;
  temporal: Connection;
  namespace: string;
  log: Logger;
}

const listQuery = z.strictObject({
  play: z.enum(PLAYS).optional(),
  status: z.enum(DRAFT_STATUSES).optional(),
  customer: z.string().min(1).max(255).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.iso.datetime({ offset: true }).optional(),
});

const editBody = z
  .strictObject({
    subject: z.string().trim().min(1).max(998).optional(),
    bodyHtml: z.string().min(1).max(200_000).optional(),
    bodyText: z.string().min(1).max(200_000).optional(),
  })
  .refine((b) => b.subject !== undefined || b.bodyHtml !== undefined || b.bodyText !== undefined, { message: 'give at least one of subject, bodyHtml, bodyText' });

const discardBody = z.strictObject({
  /** Also stop the rest of the sequence (e.g. dunning for this invoice). */
  endSequence: z.boolean().default(false),
  reason: z.string().max(1000).optional(),
});

const approveBody = z.strictObject({ reason: z.string().max(1000).optional() });

/** Money in a draft's facts is a revenue figure: hidden from roles below finance. */
const redactFacts = (facts: unknown) => redact(facts, REVENUE_HIDDEN);

/**
 * A draft as the caller may read it: money hidden below finance; the usage it cites
 * hidden where the workspace hides the product's activity; a save's risk reasons from
 * fields the workspace hides from the caller folded into one (their words would tell
 * what the fields hold).
 */
const view = (d: Draft, canSeeRevenue: boolean, hiddenFields: ReadonlySet<string>) => {
  const text = (t: string) => hideCitedActivity(canSeeRevenue ? t : hideCitedAmounts(t, d.facts), d.facts, hiddenFields);
  return {
    id: d.id,
    play: d.play,
    step: d.step,
    status: d.status,
    customerId: d.customerId,
    subjectRef: d.subjectRef,
    workflowId: d.workflowId,
    templateKey: d.templateKey,
    to: d.toAddress,
    // The text cites the facts: hidden where the facts are.
    subject: text(d.subject),
    bodyHtml: text(d.bodyHtml),
    bodyText: text(d.bodyText),
    facts: hideActivityFacts(factsAsShown(canSeeRevenue ? d.facts : (redactFacts(d.facts) as Record<string, unknown>), hiddenFields), hiddenFields),
    scheduledFor: d.scheduledFor,
    version: d.version,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
};

/**
 * Drafts of every play: list, read, approve, edit, discard. A decision is committed
 * (with its audit entry, the caller as actor) before the play's workflow is told, so
 * it stands even if Temporal is unreachable: the workflow re-reads its draft while it
 * waits, the signal only wakes it sooner.
 */
export function draftsRouter(deps: DraftsRouterDeps): Router {
  const router = Router();
  const client = new Client({ connection: deps.temporal, namespace: deps.namespace });
  const base = '/workspaces/:workspaceId/drafts';

  const load = async (workspaceId: string, draftId: string) => {
    const draft = await findDraft(deps.db, workspaceId, draftId);
    if (!draft) throw new HttpError(404, `no draft ${draftId} in workspace ${workspaceId}`);
    return draft;
  };

  const notify = async (draft: Draft, decision: DraftDecision): Promise<boolean> => {
    try {
      await client.workflow.getHandle(draft.workflowId).signal(draftDecisionSignal, decision);
      return true;
    } catch (err) {
      deps.log.warn({ err: (err as Error).message, workflowId: draft.workflowId, draftId: draft.id }, 'draft decided but its workflow was not told; it will see it on its next check');
      return false;
    }
  };

  const decide = async (draft: Draft, change: Parameters<typeof transitionDraft>[2]) => {
    try {
      return await transitionDraft(deps.db, draft.id, change);
    } catch (err) {
      if (err instanceof DraftTransitionError) throw new HttpError(409, err.message);
      throw err;
    }
  };

  router.get(base, requireWorkspaceRole('viewer'), async (req, res) => {
    const auth = authOf(res);
    const q = parseOr400(listQuery, req.query, 'query');
    const drafts = await listDrafts(deps.db, auth.workspaceId, {
      ...(q.play ? { play: q.play } : {}),
      ...(q.status ? { status: q.status } : {}),
      ...(q.customer ? { customerId: q.customer } : {}),
      ...(q.before ? { before: new Date(q.before) } : {}),
      limit: q.limit,
    });
    res.json({ drafts: drafts.map((d) => view(d, auth.canSeeRevenue, redactionOf(res).policy.fields)) });
  });

  router.get(`${base}/:draftId`, requireWorkspaceRole('viewer'), async (req, res) => {
    const auth = authOf(res);
    const draft = await load(auth.workspaceId, String(req.params.draftId));
    // How its sending stands (the send ledger, db/sends.ts): an approved draft not gone out says why here.
    const found = await findSend(deps.db, sendKeyOf(draft.id));
    const send = found?.workspaceId === auth.workspaceId ? found : undefined;
    const sending = send && {
      status: send.status,
      attempts: send.attempts,
      error: send.error === null ? null : shownRefusal(send.error),
      heldForSender: send.senderRefusedAt !== null,
      senderRefusedAt: send.senderRefusedAt,
      finishedAt: send.finishedAt,
    };
    res.json({ draft: view(draft, auth.canSeeRevenue, redactionOf(res).policy.fields), sending: sending ?? null });
  });

  router.post(`${base}/:draftId/approve`, requireWorkspaceRole('member'), async (req, res) => {
    const auth = authOf(res);
    const body = parseOr400(approveBody, req.body ?? {}, 'body');
    const draft = await decide(await load(auth.workspaceId, String(req.params.draftId)), { to: 'approved', actor: auth.actor, ...(body.reason ? { reason: body.reason } : {}) });
    const workflowNotified = await notify(draft, { draftId: draft.id, status: 'approved' });
    res.json({ draft: view(draft, auth.canSeeRevenue, redactionOf(res).policy.fields), workflowNotified });
  });

  router.post(`${base}/:draftId/edit`, requireWorkspaceRole('member'), async (req, res) => {
    const auth = authOf(res);
    const body = parseOr400(editBody, req.body, 'body');
    // An edit made from a redacted view must not send the placeholder to the customer.
    for (const [field, value] of Object.entries(body)) {
      const placeholder = typeof value === 'string' ? [HIDDEN_AMOUNT, HIDDEN_FACT].find((p) => value.includes(p)) : undefined;
      if (placeholder) {
        throw new HttpError(400, `invalid body: ${field}: still contains "${placeholder}"; write the email without it, or ask someone who may see it to edit it`);
      }
    }
    const draft = await decide(await load(auth.workspaceId, String(req.params.draftId)), { to: 'edited', actor: auth.actor, content: body });
    const workflowNotified = await notify(draft, { draftId: draft.id, status: 'edited' });
    res.json({ draft: view(draft, auth.canSeeRevenue, redactionOf(res).policy.fields), workflowNotified });
  });

  router.post(`${base}/:draftId/discard`, requireWorkspaceRole('member'), async (req, res) => {
    const auth = authOf(res);
    const body = parseOr400(discardBody, req.body ?? {}, 'body');
    const draft = await decide(await load(auth.workspaceId, String(req.params.draftId)), {
      to: 'discarded',
      actor: auth.actor,
      reason: body.reason ?? (body.endSequence ? 'discarded; sequence ended' : 'discarded'),
      note: { endSequence: body.endSequence },
    });
    const workflowNotified = await notify(draft, { draftId: draft.id, status: 'discarded', endSequence: body.endSequence });
    res.json({ draft: view(draft, auth.canSeeRevenue, redactionOf(res).policy.fields), workflowNotified });
  });

  return router;
}
