import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit, verifyAuditChain } from '../../db/audit';
import { insertMember } from '../../db/members';
import { createSession, csrfTokenFor } from '../../db/sessions';
import { findOrCreateUser } from '../../db/users';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';

interface Member {
  userId: string;
  email: string;
  role: string;
  addedBy: string;
}

describe('workspace members', () => {
  const keyring = parseKeyring(generateKeySpec());
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  const ws = 'ws_members';
  let ownerId: string;
  let owner: string;

  /** A browser's call with the session cookie and its CSRF token. */
  const as = (session: string, method: string, path: string, body?: unknown) =>
    api.request(method, path, { headers: { cookie: `wysera_session=${session}`, 'x-csrf-token': csrfTokenFor(session) }, ...(body === undefined ? {} : { body }) });
  const messageOf = (res: { body: unknown }) => (res.body as { error: { message: string } }).error.message;
  const loginAs = async (email: string, password: string) => {
    const res = await fetch(`${api.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
    return { status: res.status, cookie: /^wysera_session=([^;]*)/.exec(res.headers.get('set-cookie') ?? '')?.[1], body: (await res.json()) as { memberships: { workspaceId: string; role: string }[] } };
  };

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Members', webhookSecret: 'whsec_m' });
    await insertWorkspace(database.db, keyring, { id: 'ws_members_b', name: 'B', webhookSecret: 'whsec_b' });
    ownerId = (await findOrCreateUser(database.db, keyring, 'owner@members.example', 'owner password 1234')).user.id;
    await insertMember(database.db, keyring, { workspaceId: ws, userId: ownerId, role: 'owner', addedBy: 'test' });
    owner = (await createSession(database.db, ownerId)).token;
    api = await startApi(database.db, keyring);
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  it('adds a new person with a generated password, shown once, that logs in to the workspace', async () => {
    const res = await as(owner, 'POST', `/workspaces/${ws}/members`, { email: 'Vera@Members.example', role: 'viewer' });
    expect(res.status).toBe(201);
    const { member, password } = res.body as { member: Member; password: string };
    expect(member).toMatchObject({ email: 'Vera@Members.example', role: 'viewer', addedBy: `user:${ownerId}` });
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const login = await loginAs('vera@members.example', password);
    expect(login.status).toBe(200);
    expect(login.body.memberships).toEqual([{ workspaceId: ws, workspaceName: 'Members', role: 'viewer' }]);
    expect((await as(login.cookie!, 'GET', `/workspaces/${ws}`)).status).toBe(200);

    const list = await as(owner, 'GET', `/workspaces/${ws}/members`);
    expect((list.body as { members: Member[] }).members.map((m) => [m.email, m.role])).toEqual([
      ['owner@members.example', 'owner'],
      ['Vera@Members.example', 'viewer'],
    ]);
    expect(JSON.stringify(list.body)).not.toContain(password);
  });

  it('adds an existing user without a new password; twice is a 409; bad input is a 400 naming the field', async () => {
    const { user } = await findOrCreateUser(database.db, keyring, 'fin@members.example', 'fin password 12345');
    await insertMember(database.db, keyring, { workspaceId: 'ws_members_b', userId: user.id, role: 'owner', addedBy: 'test' });
    const res = await as(owner, 'POST', `/workspaces/${ws}/members`, { email: 'FIN@members.example', role: 'finance' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ member: expect.objectContaining({ userId: user.id, role: 'finance' }) as unknown });
    // Her password is unchanged.
    expect((await loginAs('fin@members.example', 'fin password 12345')).body.memberships.map((m) => m.role)).toEqual(['owner', 'finance']);

    const again = await as(owner, 'POST', `/workspaces/${ws}/members`, { email: 'fin@members.example', role: 'viewer' });
    expect(again.status).toBe(409);
    expect(messageOf(again)).toMatch(/member of workspace ws_members already/);
    const bad = await as(owner, 'POST', `/workspaces/${ws}/members`, { email: 'not an email', role: 'admin', extra: 1 });
    expect(bad.status).toBe(400);
    expect(messageOf(bad)).toMatch(/email/);
    expect(messageOf(bad)).toMatch(/role/);
    expect(messageOf(bad)).toMatch(/extra/);
  });

  it('changes a role and removes a member, effective on their very next request', async () => {
    const { user } = await findOrCreateUser(database.db, keyring, 'mo@members.example', 'mo password 123456');
    expect((await as(owner, 'POST', `/workspaces/${ws}/members`, { email: 'mo@members.example', role: 'member' })).status).toBe(201);
    const mo = (await createSession(database.db, user.id)).token;
    expect((await as(mo, 'GET', `/workspaces/${ws}/audit`)).status).toBe(403);

    const promoted = await as(owner, 'PATCH', `/workspaces/${ws}/members/${user.id}`, { role: 'finance' });
    expect(promoted.status).toBe(200);
    expect((promoted.body as { member: Member }).member).toMatchObject({ userId: user.id, role: 'finance' });
    expect((await as(mo, 'GET', `/workspaces/${ws}/audit`)).status).toBe(200);

    const removed = await as(owner, 'DELETE', `/workspaces/${ws}/members/${user.id}`);
    expect(removed.status).toBe(200);
    expect((removed.body as { removed: Member }).removed).toMatchObject({ userId: user.id, role: 'finance' });
    const after = await as(mo, 'GET', `/workspaces/${ws}`);
    expect(after.status).toBe(403);
    expect(messageOf(after)).toMatch(/not a member of workspace ws_members/);
    // The session itself lives on (other workspaces may still be theirs).
    expect((await as(mo, 'GET', '/auth/session')).status).toBe(200);

    expect((await as(owner, 'DELETE', `/workspaces/${ws}/members/${user.id}`)).status).toBe(404);
    expect((await as(owner, 'PATCH', `/workspaces/${ws}/members/usr_nobody`, { role: 'viewer' })).status).toBe(404);
  });

  it('keeps the last owner: neither removed nor demoted (409); with a second owner both work', async () => {
    const demote = await as(owner, 'PATCH', `/workspaces/${ws}/members/${ownerId}`, { role: 'finance' });
    expect(demote.status).toBe(409);
    expect(messageOf(demote)).toBe('workspace ws_members must keep at least one owner: make another member owner first');
    const remove = await as(owner, 'DELETE', `/workspaces/${ws}/members/${ownerId}`);
    expect(remove.status).toBe(409);
    expect((await as(owner, 'GET', `/workspaces/${ws}/members`)).status).toBe(200);

    const { user: second } = await findOrCreateUser(database.db, keyring, 'second@members.example', 'second password 123');
    expect((await as(owner, 'POST', `/workspaces/${ws}/members`, { email: 'second@members.example', role: 'owner' })).status).toBe(201);
    const secondSession = (await createSession(database.db, second.id)).token;

    // Two owners demoting each other at once: one wins, the other gets 409, an owner remains.
    const [a, b] = await Promise.all([
      as(owner, 'PATCH', `/workspaces/${ws}/members/${second.id}`, { role: 'viewer' }),
      as(secondSession, 'PATCH', `/workspaces/${ws}/members/${ownerId}`, { role: 'viewer' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const owners = (await database.db('workspace_members').where({ workspace_id: ws, role: 'owner' })).length;
    expect(owners).toBe(1);
  });

  it('audits every change with the acting user, before and after, in an intact chain; no email in the log', async () => {
    const entries = await listAudit(database.db, ws, { targetType: 'user', limit: 100 });
    const actions = entries.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['member.added', 'member.role_changed', 'member.removed']));
    const userIds = (await database.db('users').select('id')).map((r: { id: string }) => r.id);
    const removed = entries.find((e) => e.action === 'member.removed')!;
    expect(userIds).toContain(removed.targetId);
    expect(removed).toMatchObject({ actor: `user:${ownerId}`, before: { role: 'finance' }, after: null });
    const changed = entries.find((e) => e.action === 'member.role_changed' && e.targetId === removed.targetId)!;
    expect(changed).toMatchObject({ actor: `user:${ownerId}`, before: { role: 'member' }, after: { role: 'finance' } });
    const added = entries.filter((e) => e.action === 'member.added');
    expect(added.map((e) => e.after)).toEqual(expect.arrayContaining([{ role: 'viewer', userCreated: true }, { role: 'finance', userCreated: false }]));
    expect(JSON.stringify(entries)).not.toMatch(/@members\.example/i);
    expect(await verifyAuditChain(database.db, ws)).toBeNull();
  });
});
