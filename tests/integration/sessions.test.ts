import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSRF_REFUSED } from '../../api/auth';
import { createApiToken } from '../../db/api-tokens';
import { insertMember } from '../../db/members';
import { createSession } from '../../db/sessions';
import { findOrCreateUser } from '../../db/users';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';

const PASSWORD = 'correct horse battery staple';

interface SessionView {
  user: { id: string; email: string };
  memberships: { workspaceId: string; workspaceName: string; role: string }[];
  csrfToken: string;
}

/** What a browser would send and get: raw fetch, so headers (Set-Cookie) are visible. */
async function send(api: TestApi, method: string, path: string, opts: { cookie?: string; csrf?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.cookie) headers.cookie = `wysera_session=${opts.cookie}`;
  if (opts.csrf) headers['x-csrf-token'] = opts.csrf;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(api.url + path, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as unknown };
}

const login = (api: TestApi, email: string, password: string, headers?: Record<string, string>) => send(api, 'POST', '/auth/login', { body: { email, password }, ...(headers ? { headers } : {}) });
const cookieOf = (res: { headers: Headers }) => /^wysera_session=([^;]*)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
const messageOf = (res: { body: unknown }) => (res.body as { error?: { message?: string } }).error?.message;

describe('browser sessions', () => {
  const keyring = parseKeyring(generateKeySpec());
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  let userId: string;
  const ws = 'ws_sessions';

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Sessions Inc', webhookSecret: 'whsec_s' });
    await insertWorkspace(database.db, keyring, { id: 'ws_sessions_b', name: 'Another', webhookSecret: 'whsec_b' });
    userId = (await findOrCreateUser(database.db, keyring, 'Ada@Sessions.example', PASSWORD)).user.id;
    await insertMember(database.db, keyring, { workspaceId: ws, userId, role: 'owner', addedBy: 'test' });
    await insertMember(database.db, keyring, { workspaceId: 'ws_sessions_b', userId, role: 'viewer', addedBy: 'test' });
    // The failed-auth limit per address is tested in hardening.test.ts; here it would mix with the login limits.
    api = await startApi(database.db, keyring, { authFailuresPerWindow: 0 });
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  it('logs in with the cookie of the contract and answers with the user, memberships and CSRF token', async () => {
    const res = await login(api, '  ada@sessions.EXAMPLE ', PASSWORD);
    expect(res.status).toBe(200);
    const view = res.body as SessionView;
    expect(view).toEqual({
      user: { id: userId, email: 'Ada@Sessions.example' },
      memberships: [
        { workspaceId: 'ws_sessions_b', workspaceName: 'Another', role: 'viewer' },
        { workspaceId: ws, workspaceName: 'Sessions Inc', role: 'owner' },
      ],
      csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as unknown,
    });
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^wysera_session=[A-Za-z0-9_-]{43}; HttpOnly; Secure; SameSite=Strict; Path=\/; Max-Age=43200$/);
    const token = cookieOf(res)!;
    // 256 random bits, and only their SHA-256 in the table.
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    const rows = await database.db('sessions').where({ user_id: userId });
    expect(JSON.stringify(rows)).not.toContain(token);
    const row = rows.at(-1) as { created_at: Date; expires_at: Date; revoked_at: Date | null };
    expect(row.revoked_at).toBeNull();
    expect((row.expires_at.getTime() - row.created_at.getTime()) / 1000).toBeCloseTo(43200, 0);
  });

  it('GET /auth/session gives the same view for the cookie, 401 without one', async () => {
    const res = await login(api, 'ada@sessions.example', PASSWORD);
    const cookie = cookieOf(res)!;
    const session = await send(api, 'GET', '/auth/session', { cookie });
    expect(session.status).toBe(200);
    expect(session.body).toEqual(res.body);
    expect((await send(api, 'GET', '/auth/session')).status).toBe(401);
    expect((await send(api, 'GET', '/auth/session', { cookie: 'A'.repeat(43) })).status).toBe(401);
  });

  it('answers a wrong password and an unknown email alike: 401, same message, similar time', async () => {
    const wrong = await login(api, 'ada@sessions.example', 'not the password at all');
    const unknown = await login(api, 'nobody@sessions.example', 'not the password at all');
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(messageOf(wrong)).toBe('email or password is wrong');
    expect(messageOf(unknown)).toBe('email or password is wrong');
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const time = async (email: string) => {
      const started = performance.now();
      await login(api, email, 'still not the password');
      return performance.now() - started;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
    const known: number[] = [];
    const missing: number[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await time('ada@sessions.example'));
      missing.push(await time(`ghost${i}@sessions.example`));
    }
    // Both pay for a full scrypt check; without the decoy an unknown email would answer in a few ms.
    expect(median(missing)).toBeGreaterThan(median(known) * 0.5);
  });

  it('refuses a login from another origin, accepts its own origin or none', async () => {
    const foreign = await login(api, 'ada@sessions.example', PASSWORD, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(messageOf(foreign)).toMatch(/another origin/);
    expect(cookieOf(foreign)).toBeUndefined();
    expect((await login(api, 'ada@sessions.example', PASSWORD, { origin: 'null' })).status).toBe(403);
    expect((await login(api, 'ada@sessions.example', PASSWORD, { origin: api.url })).status).toBe(200);
  });

  it('behind a proxy on this host, compares the Origin with the public host it forwards', async () => {
    // The test talks to the API over loopback, which app.ts trusts as a proxy.
    const proxied = { origin: 'https://wysera.example', 'x-forwarded-host': 'wysera.example' };
    expect((await login(api, 'ada@sessions.example', PASSWORD, proxied)).status).toBe(200);
    const foreign = await login(api, 'ada@sessions.example', PASSWORD, { ...proxied, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(messageOf(foreign)).toMatch(/another origin/);
  });

  it('validates the login body strictly, naming the field', async () => {
    const res = await send(api, 'POST', '/auth/login', { body: { email: 'ada@sessions.example', password: PASSWORD, remember: true } });
    expect(res.status).toBe(400);
    expect(messageOf(res)).toMatch(/remember/);
    expect(messageOf(await send(api, 'POST', '/auth/login', { body: { email: 'ada@sessions.example' } }))).toMatch(/password/);
  });

  it('needs the CSRF token for changes made with the cookie, and not for reads or bearer tokens', async () => {
    const res = await login(api, 'ada@sessions.example', PASSWORD);
    const cookie = cookieOf(res)!;
    const { csrfToken } = res.body as SessionView;
    const change = { fields: ['email'], visibleTo: 'owner' };

    const missing = await send(api, 'PUT', `/workspaces/${ws}/redaction`, { cookie, body: change });
    expect(missing.status).toBe(403);
    expect(messageOf(missing)).toBe(CSRF_REFUSED);
    const wrong = await send(api, 'PUT', `/workspaces/${ws}/redaction`, { cookie, csrf: csrfToken.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), body: change });
    expect(wrong.status).toBe(403);
    // Another session's token is no good either.
    const other = (await login(api, 'ada@sessions.example', PASSWORD)).body as SessionView;
    expect((await send(api, 'PUT', `/workspaces/${ws}/redaction`, { cookie, csrf: other.csrfToken, body: change })).status).toBe(403);
    expect((await send(api, 'GET', `/workspaces/${ws}/redaction`, { cookie })).body).toEqual({ redaction: { fields: [], visibleTo: 'finance' } });

    const accepted = await send(api, 'PUT', `/workspaces/${ws}/redaction`, { cookie, csrf: csrfToken, body: change });
    expect(accepted.status).toBe(200);
    expect((await send(api, 'GET', `/workspaces/${ws}/redaction`, { cookie })).body).toEqual({ redaction: change });

    // The change is audited under the user's name.
    const audit = await send(api, 'GET', `/workspaces/${ws}/audit?action=redaction.changed`, { cookie });
    expect((audit.body as { entries: { actor: string }[] }).entries.map((e) => e.actor)).toEqual([`user:${userId}`]);

    const token = (await createApiToken(database.db, { workspaceId: ws, role: 'owner', name: 'ci', createdBy: 'test' })).token;
    expect((await api.request('PUT', `/workspaces/${ws}/redaction`, { token, body: { fields: [] } })).status).toBe(200);
  });

  it('logs out: 204, the session revoked, the cookie cleared; the cookie then counts as no credentials', async () => {
    const res = await login(api, 'ada@sessions.example', PASSWORD);
    const cookie = cookieOf(res)!;
    const { csrfToken } = res.body as SessionView;
    // Logging out is a change too: without the token it is refused and the session lives on.
    expect((await send(api, 'POST', '/auth/logout', { cookie })).status).toBe(403);
    expect((await send(api, 'GET', '/auth/session', { cookie })).status).toBe(200);

    const out = await send(api, 'POST', '/auth/logout', { cookie, csrf: csrfToken });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toBe('wysera_session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0');
    expect((await database.db('sessions').whereNotNull('revoked_at').where({ user_id: userId })).length).toBeGreaterThanOrEqual(1);
    expect((await send(api, 'GET', '/auth/session', { cookie })).status).toBe(401);
    expect((await send(api, 'GET', `/workspaces/${ws}`, { cookie })).status).toBe(401);
    // A stale cookie still gets cleared.
    expect((await send(api, 'POST', '/auth/logout', { cookie })).status).toBe(204);
    const audit = await database.db('audit_log').whereNull('workspace_id').where({ actor: `user:${userId}` }).pluck('action');
    expect(audit).toEqual(expect.arrayContaining(['session.created', 'session.revoked']));
  });

  it('changes the password with the current one: other sessions end, this one stays, audited', async () => {
    const { user } = await findOrCreateUser(database.db, keyring, 'kim@sessions.example', PASSWORD);
    const here = await login(api, 'kim@sessions.example', PASSWORD);
    const cookie = cookieOf(here)!;
    const { csrfToken } = here.body as SessionView;
    const elsewhere = cookieOf(await login(api, 'kim@sessions.example', PASSWORD))!;

    const wrong = await send(api, 'POST', '/auth/password', { cookie, csrf: csrfToken, body: { currentPassword: 'not it', newPassword: 'a brand new passphrase' } });
    expect([wrong.status, messageOf(wrong)]).toEqual([403, 'the current password is wrong']);
    const short = await send(api, 'POST', '/auth/password', { cookie, csrf: csrfToken, body: { currentPassword: PASSWORD, newPassword: 'short' } });
    expect([short.status, messageOf(short)]).toEqual([400, 'invalid password change: newPassword: must be at least 12 characters']);
    expect((await send(api, 'POST', '/auth/password', { cookie, body: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' } })).status).toBe(403);

    const changed = await send(api, 'POST', '/auth/password', { cookie, csrf: csrfToken, body: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' } });
    expect(changed.status).toBe(204);
    expect((await send(api, 'GET', '/auth/session', { cookie })).status).toBe(200);
    expect((await send(api, 'GET', '/auth/session', { cookie: elsewhere })).status).toBe(401);
    expect((await login(api, 'kim@sessions.example', PASSWORD)).status).toBe(401);
    expect((await login(api, 'kim@sessions.example', 'a brand new passphrase')).status).toBe(200);
    const audit = await database.db('audit_log').whereNull('workspace_id').where({ action: 'user.password_changed' }).pluck('target_id');
    expect(audit).toEqual([user.id]);
  });

  it('refuses an expired session like none at all', async () => {
    const { token } = await createSession(database.db, userId, -1);
    expect((await send(api, 'GET', '/auth/session', { cookie: token })).status).toBe(401);
    expect((await send(api, 'GET', `/workspaces/${ws}`, { cookie: token })).status).toBe(401);
    const live = await createSession(database.db, userId, 60);
    expect((await send(api, 'GET', `/workspaces/${ws}`, { cookie: live.token })).status).toBe(200);
  });

  it('limits failed logins per email: 429 with Retry-After past 10, right password or not; successes do not count', async () => {
    // An account no other test has failed to log in to.
    await findOrCreateUser(database.db, keyring, 'lin@sessions.example', PASSWORD);
    for (let i = 0; i < 5; i++) expect((await login(api, 'lin@sessions.example', PASSWORD)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await login(api, 'LIN@sessions.example', `guess ${i}`)).status).toBe(401);
    const blocked = await login(api, 'lin@sessions.example', PASSWORD);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(messageOf(blocked)).toMatch(/too many failed logins for this email/);
    // Other accounts from the same address are not locked by it.
    await findOrCreateUser(database.db, keyring, 'grace@sessions.example', PASSWORD);
    expect((await login(api, 'grace@sessions.example', PASSWORD)).status).toBe(200);
  });

  it('limits failed logins per address across emails', async () => {
    const limited = await startApi(database.db, keyring, { authFailuresPerWindow: 0, loginFailuresPerAddress: 4 });
    try {
      for (let i = 0; i < 4; i++) expect((await login(limited, `spray${i}@sessions.example`, 'password1234')).status).toBe(401);
      const blocked = await login(limited, 'grace@sessions.example', PASSWORD);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(messageOf(blocked)).toMatch(/too many failed logins from this address/);
    } finally {
      await limited.close();
    }
  });
});
