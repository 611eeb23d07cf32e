import type { Db } from './knex';
import type { Role } from '../domain/roles';
import { open, type Keyring } from '../platform/crypto';
import { userEmailContext } from './users';

/** A user's role in one workspace. */
export interface Member {
  userId: string;
  email: string;
  role: Role;
  addedBy: string;
  addedAt: Date;
}

export interface Membership {
  workspaceId: string;
  workspaceName: string;
  role: Role;
}

interface MemberRow {
  workspace_id: string;
  user_id: string;
  role: Role;
  added_by: string;
  added_at: Date;
  email: string;
}

const toMember = (ring: Keyring, r: MemberRow): Member => ({ userId: r.user_id, email: open(ring, r.email, userEmailContext(r.user_id)), role: r.role, addedBy: r.added_by, addedAt: r.added_at });

const members = (db: Db, workspaceId: string) =>
  db('workspace_members as m').join('users as u', 'u.id', 'm.user_id').where('m.workspace_id', workspaceId);
const COLUMNS = ['m.workspace_id', 'm.user_id', 'm.role', 'm.added_by', 'm.added_at', 'u.email'];

export async function listMembers(db: Db, ring: Keyring, workspaceId: string): Promise<Member[]> {
  const rows = await members(db, workspaceId).orderBy('m.added_at').orderBy('m.user_id').select<MemberRow[]>(COLUMNS);
  return rows.map((r) => toMember(ring, r));
}

export async function findMember(db: Db, ring: Keyring, workspaceId: string, userId: string): Promise<Member | undefined> {
  const row = await members(db, workspaceId).where('m.user_id', userId).first<MemberRow | undefined>(COLUMNS);
  return row && toMember(ring, row);
}

/** The user's role in the workspace, read on every request so a change applies at once. */
export async function memberRole(db: Db, userId: string, workspaceId: string): Promise<Role | undefined> {
  const row = await db<MemberRow>('workspace_members').where({ user_id: userId, workspace_id: workspaceId }).first('role');
  return row?.role;
}

/** Every workspace the user belongs to, by name. */
export async function membershipsOf(db: Db, userId: string): Promise<Membership[]> {
  const rows = await db('workspace_members as m')
    .join('workspaces as w', 'w.id', 'm.workspace_id')
    .where('m.user_id', userId)
    .orderBy('w.name')
    .orderBy('w.id')
    .select<{ workspace_id: string; name: string; role: Role }[]>('m.workspace_id', 'w.name', 'm.role');
  return rows.map((r) => ({ workspaceId: r.workspace_id, workspaceName: r.name, role: r.role }));
}

/**
 * Locks the workspace's memberships for the rest of the transaction and counts its
 * owners: two owners demoting each other at once are serialised, so one of them
 * always stays.
 */
export async function lockOwners(trx: Db, workspaceId: string): Promise<number> {
  // One lock order for every caller, so two such transactions queue instead of deadlocking.
  const rows = await trx<MemberRow>('workspace_members').where({ workspace_id: workspaceId }).orderBy('user_id').forUpdate().select('role');
  return rows.filter((r) => r.role === 'owner').length;
}

/** Adds the user; undefined if it is a member already. */
export async function insertMember(db: Db, ring: Keyring, input: { workspaceId: string; userId: string; role: Role; addedBy: string }): Promise<Member | undefined> {
  const inserted = await db('workspace_members')
    .insert({ workspace_id: input.workspaceId, user_id: input.userId, role: input.role, added_by: input.addedBy })
    .onConflict(['workspace_id', 'user_id'])
    .ignore()
    .returning('user_id');
  return inserted.length === 0 ? undefined : findMember(db, ring, input.workspaceId, input.userId);
}

export async function updateMemberRole(db: Db, workspaceId: string, userId: string, role: Role): Promise<boolean> {
  return (await db('workspace_members').where({ workspace_id: workspaceId, user_id: userId }).update({ role })) > 0;
}

export async function deleteMember(db: Db, workspaceId: string, userId: string): Promise<boolean> {
  return (await db('workspace_members').where({ workspace_id: workspaceId, user_id: userId }).delete()) > 0;
}
