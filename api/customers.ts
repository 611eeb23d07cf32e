import { Router } from 'express';
import { z } from 'zod';
import { customerProfile } from '../db/customer-profile';
import type { Knex } from '../db/knex';
import type { Keyring } from '../platform/crypto';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';
import { redactionOf } from './redaction';

const params = z.object({ customerId: z.string().regex(/^[A-Za-z0-9_]{1,255}$/, 'must be a Stripe customer id (cus_...)') });

/**
 * One customer's page: `GET /workspaces/:workspaceId/customers/:customerId` (viewer+),
 * the profile of db/customer-profile.ts with money hidden as the caller's role and the
 * workspace's redaction hide it.
 */
export function customersRouter({ db, keyring }: { db: Knex; keyring: Keyring }): Router {
  const router = Router();
  router.get('/workspaces/:workspaceId/customers/:customerId', requireWorkspaceRole('viewer'), async (req, res) => {
    const { workspaceId } = authOf(res);
    const { customerId } = parseOr400(params, req.params, 'path');
    const profile = await customerProfile(db, keyring, workspaceId, customerId);
    if (!profile) throw new HttpError(404, `no customer ${customerId} in workspace ${workspaceId}`);
    res.json(redactionOf(res).apply(profile));
  });
  return router;
}
