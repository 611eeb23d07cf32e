import { Router } from 'express';
import { z } from 'zod';
import { appendAudit } from '../db/audit';
import type { Knex } from '../db/knex';
import { deleteMember, findMember, insertMember, listMembers, lockOwners, updateMemberRole } from '../db/members';
import { findOrCreateUser } from '../db/users';
import { keepsAnOwner, ROLES, type Role } from '../domain/roles';
import type { Keyring } from '../platform/crypto';
import { generatePassword } from '../platform/passwords';
import { authOf, requireWorkspaceRole } from './auth';
import { HttpError, parseOr400 } from './errors';

const newMember = z.strictObject({
  email: z.email().max(320),
  role: z.enum(ROLES),
});

const roleChange = z.strictObject({ role: z.enum(ROLES) });

const lastOwner = (workspaceId: string) =>
  new HttpError(409, `workspace ${workspaceId} must keep at least one owner: make another member owner first`);

/**
 * The people of a workspace and their roles (owners only). Adding an email that has
 * no account yet creates the user with a generated password, returned once. Every
 * change is audited with the state before and after; the last owner can be neither
 * removed nor demoted.
 */
export function membersRouter({ db, keyring }: { db: Knex; keyring: Keyring }): Router {
  const router = Router();

  router.get('/workspaces/:workspaceId/members', requireWorkspaceRole('owner'), async (_req, res) => {
    res.json({ members: await listMembers(db, keyring, authOf(res).workspaceId) });
  });

  router.post('/workspaces/:workspaceId/members', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const input = parseOr400(newMember, req.body, 'member');
    const password = generatePassword();
    const { member, created } = await db.transaction(async (trx) => {
      const { user, created } = await findOrCreateUser(trx, keyring, input.email, password);
      const member = await insertMember(trx, keyring, { workspaceId: auth.workspaceId, userId: user.id, role: input.role, addedBy: auth.actor });
      if (!member) throw new HttpError(409, `${input.email} is a member of workspace ${auth.workspaceId} already: change the role with PATCH /workspaces/${auth.workspaceId}/members/${user.id}`);
      await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: 'member.added', targetType: 'user', targetId: user.id, before: null, after: { role: input.role, userCreated: created } });
      return { member, created };
    });
    // The password exists nowhere else: shown once, to the owner who hands it over.
    res.status(201).json({ member, ...(created ? { password } : {}) });
  });

  router.patch('/workspaces/:workspaceId/members/:userId', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const userId = String(req.params.userId);
    const { role } = parseOr400(roleChange, req.body, 'member');
    const member = await db.transaction(async (trx) => {
      const owners = await lockOwners(trx, auth.workspaceId);
      const before = await findMember(trx, keyring, auth.workspaceId, userId);
      if (!before) throw new HttpError(404, `no member ${userId} in workspace ${auth.workspaceId}`);
      if (!keepsAnOwner(owners, before.role, role)) throw lastOwner(auth.workspaceId);
      await updateMemberRole(trx, auth.workspaceId, userId, role);
      await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: 'member.role_changed', targetType: 'user', targetId: userId, before: { role: before.role }, after: { role } });
      return { ...before, role: role satisfies Role };
    });
    res.json({ member });
  });

  router.delete('/workspaces/:workspaceId/members/:userId', requireWorkspaceRole('owner'), async (req, res) => {
    const auth = authOf(res);
    const userId = String(req.params.userId);
    const removed = await db.transaction(async (trx) => {
      const owners = await lockOwners(trx, auth.workspaceId);
      const before = await findMember(trx, keyring, auth.workspaceId, userId);
      if (!before) throw new HttpError(404, `no member ${userId} in workspace ${auth.workspaceId}`);
      if (!keepsAnOwner(owners, before.role, null)) throw lastOwner(auth.workspaceId);
      await deleteMember(trx, auth.workspaceId, userId);
      await appendAudit(trx, { workspaceId: auth.workspaceId, actor: auth.actor, action: 'member.removed', targetType: 'user', targetId: userId, before: { role: before.role }, after: null });
      return before;
    });
    res.json({ removed });
  });

  return router;
}
