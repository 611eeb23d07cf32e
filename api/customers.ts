import { Router } from 'express';
import { z } from 'zod';
import { listCustomers } from '../db/customer-list';
import { customerProfile } from '../db/customer-profile';
import { riskAsShown } from '../domain/churn-risk';
import type { Knex } from '../db/knex';
import type { Keyring } from '../platform/crypto';
import type { Logger } from '../platform/logger';
import { warningThrottle } from '../platform/warning-throttle';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';
import { hidesMrr, redactionOf } from './redaction';

const STRIPE_ID = /^[A-Za-z0-9_]{1,255}$/;
const params = z.object({ customerId: z.string().regex(STRIPE_ID, 'must be a Stripe customer id (cus_...)') });

const listQuery = z.strictObject({
  /** An email (exact, any case), or a piece of a name or the start of a Stripe customer id. */
  q: z
    .string()
    .trim()
    .max(255)
    // eslint-disable-next-line no-control-regex
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'an email address, a name, or the start of a Stripe customer id (cus_...), without control characters')
    .optional(),
  sort: z.enum(['mrr', 'newest', 'risk']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

/** How often a workspace's searches may log that they met names the keyring cannot open. */
const UNOPENED_WARNING_EVERY_MS = 10 * 60_000;

/**
 * The customers: `GET /workspaces/:workspaceId/customers` (viewer+), a page of them
 * found by email, or by a piece of the name or the start of the id (db/customer-list.ts), and `.../customers/:customerId`,
 * one customer's profile (db/customer-profile.ts); money hidden as the caller's role
 * and the workspace's redaction hide it.
 */
export function customersRouter({ db, keyring, log }: { db: Knex; keyring: Keyring; log: Logger }): Router {
  const router = Router();
  const unopenedWarning = warningThrottle(UNOPENED_WARNING_EVERY_MS);
  // The biggest payers first, for whoever may see MRR; the order itself would tell the
  // others what is hidden from them, so theirs is newest first, and sort=mrr a 400.
  router.get('/workspaces/:workspaceId/customers', requireWorkspaceRole('viewer'), async (req, res) => {
    const { workspaceId } = authOf(res);
    const q = parseOr400(listQuery, req.query, 'query');
    const redaction = redactionOf(res);
    const mrrHidden = hidesMrr(redaction);
    if (q.sort === 'mrr' && mrrHidden) throw new HttpError(400, 'invalid query: sort: mrr is hidden for your role; use sort=newest');
    if (q.sort === 'risk' && redaction.policy.fields.has('risk')) throw new HttpError(400, 'invalid query: sort: risk is hidden for your role; use sort=newest');
    const sort = q.sort ?? (mrrHidden ? 'newest' : 'mrr');
    const search = q.q ?? '';
    const byEmail = search.includes('@');
    // A search by email would confirm an address the workspace hides from this role, and one by name a name.
    if (byEmail && redaction.policy.fields.has('email')) throw new HttpError(400, 'invalid query: q: customer emails are hidden for your role; search by the start of a Stripe id');
    const idLike = STRIPE_ID.test(search);
    // "cus_…" that can be an id is one being typed: found by its prefix alone, without opening every name.
    const byName = search !== '' && !byEmail && !(idLike && search.startsWith('cus_')) && !redaction.policy.fields.has('name');
    if (search !== '' && !byEmail && !byName && !idLike) throw new HttpError(400, 'invalid query: q: customer names are hidden for your role; search by the start of a Stripe id');
    const found = await listCustomers(db, keyring, workspaceId, {
      sort,
      limit: q.limit,
      offset: q.offset,
      email: byEmail ? search : undefined,
      idPrefix: search !== '' && !byEmail && idLike ? search : undefined,
      nameContains: byName ? search : undefined,
    });
    // Names sealed under a key the ring no longer holds match nothing: an operator must hear of it,
    // once in a while rather than at every keystroke of every search.
    const warning = found.unopenedNames > 0 ? unopenedWarning(workspaceId) : null;
    if (warning) {
      log.warn(
        { workspaceId, unopened: found.unopenedNames, searchesNotLogged: warning.heldBack },
        `customer search: names that cannot be opened with WYSERA_ENCRYPTION_KEYS (a key left out of the ring?) matched nothing (logged at most once in ${UNOPENED_WARNING_EVERY_MS / 60_000} minutes a workspace; searchesNotLogged met them since the last time)`,
      );
    }
    res.json(redaction.apply({ sort, limit: q.limit, offset: q.offset, total: found.total, customers: found.customers }));
  });

  router.get('/workspaces/:workspaceId/customers/:customerId', requireWorkspaceRole('viewer'), async (req, res) => {
    const { workspaceId } = authOf(res);
    const { customerId } = parseOr400(params, req.params, 'path');
    const profile = await customerProfile(db, keyring, workspaceId, customerId);
    if (!profile) throw new HttpError(404, `no customer ${customerId} in workspace ${workspaceId}`);
    const redaction = redactionOf(res);
    res.json(redaction.apply({ ...profile, risk: profile.risk && riskAsShown(profile.risk, redaction.policy.fields) }));
  });
  return router;
}
