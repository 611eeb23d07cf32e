import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createApi } from '../../api/app';
import { CSRF_REFUSED, SESSION_COOKIE } from '../../api/auth';
import { createApiToken } from '../../db/api-tokens';
import { createDraftOnce } from '../../db/drafts';
import { insertMember } from '../../db/members';
import { createSession, csrfTokenFor, revokeSession } from '../../db/sessions';
import { findOrCreateUser } from '../../db/users';
import { insertWorkspace } from '../../db/workspaces';
import { ROLES, type Role } from '../../domain/roles';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createMetrics } from '../../platform/metrics';
import { createTemporalClient } from '../../platform/temporal';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { inject } from 'vitest';
import knexFactory from 'knex';
import { appRoutes, type AppRoute } from './routes';

/**
 * Who may call what: the minimum each route needs. A route the app has and this table
 * lacks fails the test, so every new route is born with its row here.
 * - 'public': probes and the Prometheus scrape;
 * - 'signature': the Stripe webhook, authenticated by its signature only;
 * - 'operator': the platform operator's token;
 * - 'session': any signed-in user's own browser session;
 * - a role: that role or a higher one in the route's own workspace (an API token of
 *   it, or a session of a user who is a member with that role).
 */
type Access = Role | 'public' | 'signature' | 'operator' | 'session';
const EXPECTED: Record<string, Access> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'public',
  // The web UI's page and bundle: no data in them; the pages read the guarded API.
  'GET /': 'public',
  'GET /login': 'public',
  'GET /forgot-password': 'public',
  'GET /reset-password': 'public',
  'GET /w/:workspaceId/*page': 'public',
  'GET /assets/app.js': 'public',
  'GET /assets/app.css': 'public',
  'POST /webhooks/stripe/:workspaceId': 'signature',
  'POST /workspaces': 'operator',
  'POST /auth/login': 'public',
  // Whoever forgot a password has no session; the answer never tells whether an account exists.
  'POST /auth/password-reset': 'public',
  'POST /auth/password-reset/confirm': 'public',
  'GET /auth/session': 'session',
  'POST /auth/logout': 'public',
  'POST /auth/password': 'session',
  'GET /workspaces/:workspaceId/members': 'owner',
  'POST /workspaces/:workspaceId/members': 'owner',
  'PATCH /workspaces/:workspaceId/members/:userId': 'owner',
  'DELETE /workspaces/:workspaceId/members/:userId': 'owner',
  'PUT /exchange-rates/:reportingCurrency': 'operator',
  'GET /workspaces/:workspaceId': 'viewer',
  'GET /workspaces/:workspaceId/redaction': 'viewer',
  'PUT /workspaces/:workspaceId/redaction': 'owner',
  'POST /workspaces/:workspaceId/tokens': 'owner',
  'GET /workspaces/:workspaceId/tokens': 'owner',
  'DELETE /workspaces/:workspaceId/tokens/:tokenId': 'owner',
  'GET /workspaces/:workspaceId/audit': 'finance',
  'GET /workspaces/:workspaceId/customers': 'viewer',
  'GET /workspaces/:workspaceId/customers/:customerId': 'viewer',
  'GET /workspaces/:workspaceId/webhook-events/summary': 'owner',
  'GET /workspaces/:workspaceId/webhook-events/failing': 'owner',
  'POST /workspaces/:workspaceId/webhook-events/:eventId/ignore': 'owner',
  'POST /workspaces/:workspaceId/webhook-events/:eventId/retry': 'owner',
  'POST /workspaces/:workspaceId/webhook-events/set-aside/reapply': 'owner',
  'GET /workspaces/:workspaceId/metrics/settings': 'viewer',
  'PUT /workspaces/:workspaceId/metrics/settings': 'owner',
  'POST /workspaces/:workspaceId/metrics/recompute': 'owner',
  'POST /workspaces/:workspaceId/signals/nps': 'member',
  'POST /workspaces/:workspaceId/signals': 'member',
  'DELETE /workspaces/:workspaceId/signals/:signalId': 'member',
  'GET /workspaces/:workspaceId/churn-risk/backtest': 'viewer',
  'GET /workspaces/:workspaceId/churn-saves': 'viewer',
  'POST /workspaces/:workspaceId/churn-radar/scan': 'owner',
  'GET /workspaces/:workspaceId/expansion-pitches': 'viewer',
  'POST /workspaces/:workspaceId/expansion/scan': 'owner',
  'GET /workspaces/:workspaceId/renewal-notes': 'viewer',
  'POST /workspaces/:workspaceId/renewals/scan': 'owner',
  'GET /workspaces/:workspaceId/metrics/:metric': 'viewer',
  'GET /workspaces/:workspaceId/metrics/:metric/drilldown': 'viewer',
  'PATCH /workspaces/:workspaceId/settings': 'owner',
  'PUT /workspaces/:workspaceId/stripe-key': 'owner',
  'PUT /workspaces/:workspaceId/webhook-secret': 'owner',
  'GET /workspaces/:workspaceId/sync': 'viewer',
  'POST /workspaces/:workspaceId/sync': 'owner',
  'GET /workspaces/:workspaceId/product-mapping': 'viewer',
  'PUT /workspaces/:workspaceId/product-mapping': 'owner',
  'GET /workspaces/:workspaceId/drafts': 'viewer',
  'GET /workspaces/:workspaceId/drafts/:draftId': 'viewer',
  'POST /workspaces/:workspaceId/drafts/:draftId/approve': 'member',
  'POST /workspaces/:workspaceId/drafts/:draftId/edit': 'member',
  'POST /workspaces/:workspaceId/drafts/:draftId/discard': 'member',
  'GET /workspaces/:workspaceId/plays/:play/settings': 'viewer',
  'PUT /workspaces/:workspaceId/plays/:play/settings': 'owner',
  'GET /workspaces/:workspaceId/email-settings': 'viewer',
  'PUT /workspaces/:workspaceId/email-settings': 'owner',
  'GET /workspaces/:workspaceId/templates/:play': 'viewer',
  'PUT /workspaces/:workspaceId/templates/:play/:key': 'owner',
  'DELETE /workspaces/:workspaceId/templates/:play/:key': 'owner',
  'POST /workspaces/:workspaceId/templates/preview': 'member',
  'POST /workspaces/:workspaceId/invoices/:invoiceId/paid-out-of-band': 'finance',
  'GET /workspaces/:workspaceId/dunning/recovery': 'viewer',
};

/**
 * Routes a session may call without the CSRF header: the login (no session in play;
 * SameSite and its Origin check guard it) and the webhook (before any credentials).
 */
// Password resets use no session: a forged request could only ask for an email anyone may
// ask for, or spend a token its sender already holds.
const CSRF_EXEMPT = new Set(['POST /auth/login', 'POST /webhooks/stripe/:workspaceId', 'POST /auth/password-reset', 'POST /auth/password-reset/confirm']);
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

const OPERATOR = 'operator-token-for-the-route-matrix';
const WS = 'ws_matrix';
const PARAMS: Record<string, string> = { workspaceId: WS, metric: 'mrr', play: 'dunning', reportingCurrency: 'usd' };

const keyOf = (r: AppRoute) => `${r.method} ${r.path}`;
/** A concrete path for a route pattern: known values for known parameters, a probe id for the rest. */
const concrete = (pattern: string) => pattern.replace(/:([A-Za-z]+)/g, (_m, name: string) => PARAMS[name] ?? `probe_${name}`);

/** What the guard on the router stack says, in the table's terms. */
function accessFromStack(route: AppRoute): Access | 'unguarded' | 'several guards' {
  if (route.guards.length > 1) return 'several guards';
  const [guard] = route.guards;
  if (!guard) return 'unguarded';
  return guard.kind === 'workspace' ? guard.minimum : guard.kind;
}

describe('authorisation matrix over every route of the app', () => {
  const keyring = parseKeyring(generateKeySpec());
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  const tokens = {} as Record<Role, string>;
  let otherOwner: string;
  let revoked: string;
  /** Browser sessions (cookie value) of a member of WS with each role. */
  const sessions = {} as Record<Role, string>;
  let otherMemberSession: string;
  let expiredSession: string;
  let revokedSession: string;

  // The routes, read from a built app's router stack (no services are called to build it).
  const { connection } = createTemporalClient({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: 'default' });
  const routes = appRoutes(createApi({ db: knexFactory({ client: 'pg' }), temporal: connection, keyring, log: pino({ level: 'silent' }), metrics: createMetrics(), webhookMaxBytes: 1024 }).app);

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: WS, name: 'Matrix', webhookSecret: 'whsec_matrix' });
    await insertWorkspace(database.db, keyring, { id: 'ws_matrix_other', name: 'Other', webhookSecret: 'whsec_other' });
    for (const role of ROLES) tokens[role] = (await createApiToken(database.db, { workspaceId: WS, role, name: role, createdBy: 'test' })).token;
    otherOwner = (await createApiToken(database.db, { workspaceId: 'ws_matrix_other', role: 'owner', name: 'o', createdBy: 'test' })).token;
    const toRevoke = await createApiToken(database.db, { workspaceId: WS, role: 'owner', name: 'revoked', createdBy: 'test' });
    revoked = toRevoke.token;
    const member = async (email: string, workspaceId: string, role: Role) => {
      const { user } = await findOrCreateUser(database.db, keyring, email, 'a long enough password');
      await insertMember(database.db, keyring, { workspaceId, userId: user.id, role, addedBy: 'test' });
      return user.id;
    };
    for (const role of ROLES) sessions[role] = (await createSession(database.db, await member(`${role}@matrix.example`, WS, role))).token;
    otherMemberSession = (await createSession(database.db, await member('owner@other.example', 'ws_matrix_other', 'owner'))).token;
    expiredSession = (await createSession(database.db, await member('expired@matrix.example', WS, 'owner'), -1)).token;
    const toRevokeSession = await createSession(database.db, await member('revoked@matrix.example', WS, 'owner'));
    await revokeSession(database.db, toRevokeSession.session.id);
    revokedSession = toRevokeSession.token;
    // Many deliberate bad-token calls from one address: no failed-auth limit here (tests/security/hardening.test.ts has it).
    api = await startApi(database.db, keyring, { operatorToken: OPERATOR, authFailuresPerWindow: 0 });
    expect((await api.request('DELETE', `/workspaces/${WS}/tokens/${toRevoke.apiToken.id}`, { token: tokens.owner })).status).toBe(200);
  });

  afterAll(async () => {
    await api?.close();
    await connection.close();
    await database?.drop();
  });

  it('finds the routes of every router', () => {
    expect(routes.length).toBeGreaterThanOrEqual(Object.keys(EXPECTED).length);
    expect(routes.map(keyOf)).toContain('POST /workspaces/:workspaceId/drafts/:draftId/approve');
  });

  it('has a row for every route and a guard on every non-public route that matches its row', () => {
    const actual = Object.fromEntries(routes.map((r) => [keyOf(r), accessFromStack(r)]));
    const expected = Object.fromEntries(
      routes.map((r) => {
        const access = EXPECTED[keyOf(r)];
        if (access === undefined) return [keyOf(r), 'no row in the matrix table'];
        return [keyOf(r), access === 'public' || access === 'signature' ? 'unguarded' : access];
      }),
    );
    expect(actual).toEqual(expected);
    // Rows for routes that no longer exist would hide a renamed route's missing test.
    expect(Object.keys(EXPECTED).filter((k) => !routes.some((r) => keyOf(r) === k))).toEqual([]);
  });

  it("reaches no other tenant's objects through its own workspace's path", async () => {
    const { draft } = await createDraftOnce(
      database.db,
      { workspaceId: 'ws_matrix_other', customerId: 'cus_o', play: 'dunning', step: 'step-0', workflowId: 'wf-matrix-other', subjectRef: 'in_o', templateKey: 'friendly', status: 'drafted', toAddress: 'o@example.com', subject: 's', bodyHtml: '<p>b</p>', bodyText: 'b', facts: {}, scheduledFor: null },
      'test',
    );
    const foreignToken = await createApiToken(database.db, { workspaceId: 'ws_matrix_other', role: 'viewer', name: 'foreign', createdBy: 'test' });
    expect((await api.request('GET', `/workspaces/${WS}/drafts/${draft.id}`, { token: tokens.owner })).status).toBe(404);
    expect((await api.request('POST', `/workspaces/${WS}/drafts/${draft.id}/approve`, { token: tokens.owner, body: {} })).status).toBe(404);
    expect((await api.request('DELETE', `/workspaces/${WS}/tokens/${foreignToken.apiToken.id}`, { token: tokens.owner })).status).toBe(404);
    const list = await api.request('GET', `/workspaces/${WS}/drafts`, { token: tokens.owner });
    expect((list.body as { drafts: { id: string }[] }).drafts.map((d) => d.id)).not.toContain(draft.id);
    // Untouched: still drafted, and the foreign token still works.
    expect((await api.request('GET', '/workspaces/ws_matrix_other/drafts/' + draft.id, { token: foreignToken.token })).status).toBe(200);
  });

  for (const route of routes) {
    const access = EXPECTED[keyOf(route)];
    it(`${keyOf(route)} answers as a ${access ?? 'MISSING ROW'} route`, async () => {
      expect(access, 'the route needs a row in EXPECTED').toBeDefined();
      const path = concrete(route.path);
      // An unknown field: every guarded mutation that gets past its guard stops at validation.
      const body = route.method === 'GET' || route.method === 'DELETE' ? undefined : { matrixProbe: true };
      const call = (token?: string) => api.request(route.method, path, { ...(token ? { token } : {}), ...(body ? { body } : {}) });
      // A browser's call: the session cookie, and the CSRF header unless `csrf` is false.
      const browser = (session: string, csrf = true) =>
        api.request(route.method, path, { headers: { cookie: `${SESSION_COOKIE}=${session}`, ...(csrf ? { 'x-csrf-token': csrfTokenFor(session) } : {}) }, ...(body ? { body } : {}) });
      const denied = (status: number) => status === 401 || status === 403;
      const unsafe = !SAFE.has(route.method) && !CSRF_EXEMPT.has(keyOf(route));
      if (unsafe) {
        // Without the header a session changes nothing, whatever its role: 403 before the route runs.
        const res = await browser(sessions.owner, false);
        expect({ status: res.status, body: res.body }).toEqual({ status: 403, body: { error: { status: 403, message: CSRF_REFUSED } } });
        expect((await browser(sessions.owner, false)).status).toBe(403);
      }

      if (access === 'public') {
        expect(denied((await call()).status)).toBe(false);
        return;
      }
      if (access === 'signature') {
        // No signature: refused whatever bearer token or session comes with it.
        for (const token of [undefined, tokens.owner, OPERATOR]) {
          const res = await call(token);
          expect({ token, status: res.status }).toEqual({ token, status: 400 });
        }
        expect((await browser(sessions.owner)).status).toBe(400);
        return;
      }
      if (access === 'session') {
        expect((await call()).status).toBe(401);
        for (const token of [tokens.owner, OPERATOR]) expect((await call(token)).status).toBe(401);
        for (const session of [expiredSession, revokedSession, 'not-a-session']) expect((await browser(session)).status).toBe(401);
        for (const session of [...ROLES.map((r) => sessions[r]), otherMemberSession]) {
          const status = (await browser(session)).status;
          expect(denied(status) || status >= 500, `a session got ${status}`).toBe(false);
        }
        return;
      }
      expect((await call()).status).toBe(401);
      expect((await call(revoked)).status).toBe(401);
      expect((await call('wys_not_a_token')).status).toBe(401);
      expect((await call(otherOwner)).status).toBe(403);
      for (const role of ROLES) {
        const status = (await call(tokens[role])).status;
        const allowed = access !== 'operator' && ROLES.indexOf(role) >= ROLES.indexOf(access as Role);
        expect({ role, denied: denied(status) }).toEqual({ role, denied: !allowed });
        if (allowed) expect(status, `${role} got ${status}`).toBeLessThan(500);
      }
      const operator = (await call(OPERATOR)).status;
      expect(denied(operator)).toBe(access !== 'operator');

      // Sessions: expired or revoked ones are no credentials; another workspace's
      // member is refused; each role's member gets what that role's token gets.
      expect((await browser(expiredSession)).status).toBe(401);
      expect((await browser(revokedSession)).status).toBe(401);
      expect((await browser(otherMemberSession)).status).toBe(403);
      for (const role of ROLES) {
        const status = (await browser(sessions[role])).status;
        const allowed = access !== 'operator' && ROLES.indexOf(role) >= ROLES.indexOf(access as Role);
        expect({ role, session: true, denied: denied(status) }).toEqual({ role, session: true, denied: !allowed });
        if (allowed) expect(status, `${role} session got ${status}`).toBeLessThan(500);
      }
    });
  }
});
