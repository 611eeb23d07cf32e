import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../db/api-tokens';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { signatureFor, stripeEvent, stripeFixture } from '../helpers/stripe';

describe('HTTP hardening', () => {
  const keyring = parseKeyring(generateKeySpec());
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;
  let viewer: string;
  const ws = 'ws_hardening';

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: ws, name: 'Hardening', webhookSecret: 'whsec_h' });
    await insertWorkspace(database.db, keyring, { id: 'ws_hardening_b', name: 'B', webhookSecret: 'whsec_b' });
    viewer = (await createApiToken(database.db, { workspaceId: ws, role: 'viewer', name: 'v', createdBy: 'test' })).token;
    api = await startApi(database.db, keyring, { webhookRequestsPerMinute: 3, authFailuresPerWindow: 3 });
  });

  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  it('sends helmet security headers on every answer', async () => {
    for (const path of ['/healthz', `/workspaces/${ws}`]) {
      const res = await fetch(api.url + path, { headers: { authorization: `Bearer ${viewer}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('refuses JSON bodies over the size limit with 413', async () => {
    const res = await api.request('PUT', `/workspaces/${ws}/redaction`, { token: viewer, body: { fields: ['x'.repeat(300 * 1024)] } });
    expect(res.status).toBe(413);
  });

  it('refuses a body that is not JSON with 415 instead of reading it as no body', async () => {
    const owner = (await createApiToken(database.db, { workspaceId: ws, role: 'owner', name: 'o', createdBy: 'test' })).token;
    const post = (headers: Record<string, string>, body?: string | Uint8Array) =>
      fetch(`${api.url}/workspaces/${ws}/redaction`, { method: 'PUT', headers: { authorization: `Bearer ${owner}`, ...headers }, ...(body !== undefined ? { body } : {}) });
    const form = await post({ 'content-type': 'application/x-www-form-urlencoded' }, 'fields=x');
    expect(form.status).toBe(415);
    expect(((await form.json()) as { error: { message: string } }).error.message).toBe(
      'request body must be JSON (Content-Type: application/json), not application/x-www-form-urlencoded',
    );
    const untyped = await post({}, new Uint8Array([1, 2, 3]));
    expect(untyped.status).toBe(415);
    expect(await untyped.text()).toContain('not a body without a Content-Type');
    // JSON with its charset named is JSON.
    expect((await post({ 'content-type': 'application/json; charset=utf-8' }, JSON.stringify({ fields: [] }))).status).toBe(200);
    // No body at all, or an empty one of any type, is still no body: the route's own check answers.
    for (const empty of [await post({}), await post({ 'content-type': 'text/plain' }, '')]) {
      expect(empty.status).toBe(400);
      expect(await empty.text()).toContain('expected object, received undefined');
    }
  });

  it('limits signed webhook deliveries per workspace: 429 past the limit, forged ones and other workspaces unaffected', async () => {
    let n = 0;
    const deliver = (workspace: string, secret: string) => {
      const body = JSON.stringify(stripeEvent('customer.subscription.updated', { ...stripeFixture('subscription'), customer: 'cus_rl' }, { id: `evt_rl_${++n}` }));
      return fetch(`${api.url}/webhooks/stripe/${workspace}`, { method: 'POST', body, headers: { 'stripe-signature': signatureFor(body, secret) } });
    };
    // Requests forged by someone who knows the endpoint's address: refused, and not counted.
    for (let i = 0; i < 5; i++) expect((await deliver(ws, 'whsec_forged')).status).toBe(400);
    for (let i = 0; i < 3; i++) expect((await deliver(ws, 'whsec_h')).status).toBe(200);
    const limited = await deliver(ws, 'whsec_h');
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as { error: { message: string } }).error.message).toMatch(/webhook deliveries/);
    expect(await database.db('webhook_inbox').where({ workspace_id: ws }).count<{ count: number }[]>('* as count')).toEqual([{ count: 3 }]);
    expect((await deliver('ws_hardening_b', 'whsec_b')).status).toBe(200);
  });

  it('limits failed authentications per address; successful calls do not count', async () => {
    for (let i = 0; i < 5; i++) expect((await api.request('GET', `/workspaces/${ws}`, { token: viewer })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await api.request('GET', `/workspaces/${ws}`, { token: `wys_guess${i}` })).status).toBe(401);
    const blocked = await api.request('GET', `/workspaces/${ws}`, { token: 'wys_guess4' });
    expect(blocked.status).toBe(429);
    // Locked out for the window, even with a valid token: guessing cannot continue.
    expect((await api.request('GET', `/workspaces/${ws}`, { token: viewer })).status).toBe(429);
  });
});
