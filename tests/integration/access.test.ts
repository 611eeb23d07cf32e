import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../db/api-tokens';
import { appendAudit, verifyAuditChain } from '../../db/audit';
import { findOrCreateUser } from '../../db/users';
import { insertWorkspace } from '../../db/workspaces';
import { ROLES, type Role } from '../../domain/roles';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';

/**
 * Authorisation of the access routes: every route with every role, no credentials,
 * a revoked token and another workspace's token.
 */
describe('API tokens, roles and the audit log', () => {
  const keyring = parseKeyring(generateKeySpec());
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  const tokens = {} as Record<Role, string>;
  let otherWorkspaceOwner: string;
  let revoked: string;
  const ws = 'ws_access';

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Access', webhookSecret: 'whsec_a' });
    await insertWorkspace(database.db, keyring, { id: 'ws_other', name: 'Other', webhookSecret: 'whsec_b' });
    for (const role of ROLES) tokens[role] = (await createApiToken(database.db, { workspaceId: ws, role, name: role, createdBy: 'test' })).token;
    otherWorkspaceOwner = (await createApiToken(database.db, { workspaceId: 'ws_other', role: 'owner', name: 'o', createdBy: 'test' })).token;
    revoked = (await createApiToken(database.db, { workspaceId: ws, role: 'owner', name: 'to revoke', createdBy: 'test' })).token;
    api = await startApi(database.db, keyring);
    const id = revoked.split('_')[1];
    expect((await api.request('DELETE', `/workspaces/${ws}/tokens/${id}`, { token: tokens.owner })).status).toBe(200);
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  const routes: { method: string; path: string; minimum: Role; body?: unknown }[] = [
    { method: 'GET', path: `/workspaces/${ws}/tokens`, minimum: 'owner' },
    { method: 'POST', path: `/workspaces/${ws}/tokens`, minimum: 'owner', body: { name: 'ci', role: 'viewer' } },
    { method: 'GET', path: `/workspaces/${ws}/audit`, minimum: 'finance' },
  ];

  for (const route of routes) {
    it(`${route.method} ${route.path.replace(ws, ':ws')} needs ${route.minimum}`, async () => {
      const call = (token?: string) => api.request(route.method, route.path, { ...(token ? { token } : {}), ...(route.body ? { body: route.body } : {}) });
      expect((await call()).status).toBe(401);
      expect((await call(revoked)).status).toBe(401);
      expect((await call('wys_nonsense')).status).toBe(401);
      expect((await call(otherWorkspaceOwner)).status).toBe(403);
      for (const role of ROLES) {
        const res = await call(tokens[role]);
        const allowed = ROLES.indexOf(role) >= ROLES.indexOf(route.minimum);
        expect({ role, status: res.status }).toEqual({ role, status: allowed ? (route.method === 'POST' ? 201 : 200) : 403 });
      }
    });
  }

  it('shows a new token once and stores only its hash', async () => {
    const res = await api.request('POST', `/workspaces/${ws}/tokens`, { token: tokens.owner, body: { name: 'integration', role: 'member' } });
    expect(res.status).toBe(201);
    const { token, id } = res.body as { token: string; id: string };
    // wys_<12-character id>_<secret>; the secret itself may hold '_'.
    const secret = /^wys_[A-Za-z0-9]{12}_(.{43})$/.exec(token)?.[1];
    expect(secret).toBeDefined();
    const raw = JSON.stringify(await database.db('api_tokens').where({ id }));
    expect(raw).not.toContain(secret);
    const list = await api.request('GET', `/workspaces/${ws}/tokens`, { token: tokens.owner });
    expect(JSON.stringify(list.body)).not.toContain(token);
    // The new token works with its role.
    expect((await api.request('GET', `/workspaces/${ws}/audit`, { token })).status).toBe(403);
  });

  it('rejects unknown fields and bad roles naming them', async () => {
    const res = await api.request('POST', `/workspaces/${ws}/tokens`, { token: tokens.owner, body: { name: 'x', role: 'admin', extra: 1 } });
    expect(res.status).toBe(400);
    const message = (res.body as { error: { message: string } }).error.message;
    expect(message).toMatch(/role/);
    expect(message).toMatch(/extra/);
  });

  it('audits token changes with the actor, in a verifiable chain', async () => {
    const res = await api.request('GET', `/workspaces/${ws}/audit?action=token.revoked`, { token: tokens.finance });
    const entries = (res.body as { entries: { actor: string; targetId: string }[] }).entries;
    expect(entries).toHaveLength(1);
    expect(entries[0]!.actor).toMatch(/^token:/);
    expect(entries[0]!.targetId).toBe(revoked.split('_')[1]);
    expect(await verifyAuditChain(database.db, ws)).toBeNull();
  });

  it("names each entry's actor: a person by email, a token by name, Wysera's own parts and the CLI by what they are", async () => {
    const { user } = await findOrCreateUser(database.db, keyring, 'ada@access.example', 'a password of some length');
    const otherToken = (await createApiToken(database.db, { workspaceId: 'ws_other', role: 'owner', name: 'elsewhere', createdBy: 'test' })).apiToken.id;
    for (const actor of [`user:${user.id}`, 'system:dunning', 'cli', 'user:usr_unknown', `token:${otherToken}`]) {
      await appendAudit(database.db, { workspaceId: ws, actor, action: 'label.test', targetType: 'test' });
    }
    const res = await api.request('GET', `/workspaces/${ws}/audit`, { token: tokens.finance });
    expect(res.status).toBe(200);
    const { entries, actors } = res.body as { entries: { actor: string }[]; actors: Record<string, string> };
    expect(Object.keys(actors).sort()).toEqual([...new Set(entries.map((e) => e.actor))].sort());
    expect(actors[`user:${user.id}`]).toBe('ada@access.example');
    expect(actors['system:dunning']).toBe('Wysera (dunning)');
    expect(actors.cli).toBe('the command line (npm run access)');
    expect(actors['user:usr_unknown']).toBe('an unknown user (usr_unknown)');
    // The revoking token is this workspace's; another workspace's token is not named here.
    const revoker = entries.find((e) => e.actor.startsWith('token:') && e.actor !== `token:${otherToken}`)!.actor;
    expect(actors[revoker]).toBe('API token "owner"');
    expect(actors[`token:${otherToken}`]).toBe(`an API token no longer listed (${otherToken})`);
    // The token list names who made each token the same way.
    const made = await api.request('POST', `/workspaces/${ws}/tokens`, { token: tokens.owner, body: { name: 'made by the owner token', role: 'viewer' } });
    const list = (await api.request('GET', `/workspaces/${ws}/tokens`, { token: tokens.owner })).body as { tokens: { id: string; createdByName: string }[] };
    expect(list.tokens.find((t) => t.id === (made.body as { id: string }).id)?.createdByName).toBe('API token "owner"');
    expect(list.tokens.find((t) => t.createdByName === 'test')).toBeDefined();
  });

  it('finds the first broken link when history is changed behind the database’s back', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await appendAudit(database.db, { workspaceId: 'ws_other', actor: 'system:test', action: `step.${i}`, targetType: 'test' })).id);
    expect(await verifyAuditChain(database.db, 'ws_other')).toBeNull();
    // Only a superuser can switch the append-only trigger off; the chain still tells.
    await database.db.raw('alter table audit_log disable trigger audit_log_no_update');
    await database.db('audit_log').where({ id: ids[1] }).update({ action: 'step.forged' });
    await database.db.raw('alter table audit_log enable trigger audit_log_no_update');
    expect(await verifyAuditChain(database.db, 'ws_other')).toEqual({ id: ids[1], problem: expect.stringMatching(/changed/) as unknown });
  });
});
