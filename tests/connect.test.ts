import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import Stripe from 'stripe';
import { createApiToken } from '../db/api-tokens';
import { listAudit } from '../db/audit';
import { findWebhookSecret, findWorkspaceStripe, insertWorkspace } from '../db/workspaces';
import { WYSERA_PERMISSIONS } from '../sim/keys';
import { syncHarness, type SyncHarness } from './sync-harness';

const WEBHOOK_SECRET = 'whsec_connectTestSecret123';
let h: SyncHarness;

beforeAll(async () => {
  h = await syncHarness({ seed: 'connect', customers: 5, months: 2, rateLimit: 0, connected: [{ customers: 3 }, { customers: 2 }] });
});
afterAll(async () => {
  await h?.close();
});

const workspaceCount = async () => Number((await h.db('workspaces').count<{ count: string }[]>('* as count'))[0]!.count);
const body = (over: Record<string, unknown> = {}) => ({ name: 'Acme', stripeKey: h.sim.accounts[0]!.restrictedKey, webhookSecret: WEBHOOK_SECRET, sync: false, ...over });

describe('POST /workspaces refuses and creates nothing', () => {
  it('refuses a full-access live key, saying how to make a restricted one and which permissions', async () => {
    const before = await workspaceCount();
    const res = await h.call('POST', '/workspaces', body({ stripeKey: 'sk_live_abcdef123456' }));
    expect(res.status).toBe(400);
    expect((res.body.error as { message: string }).message).toContain('stripeKey');
    expect(res.text).toContain('restricted key');
    for (const p of ['Customers: Read', 'Subscriptions: Read', 'Invoices: Write', 'Charges: Read', 'PaymentIntents: Read']) expect(res.text).toContain(p);
    expect(res.text).toContain('recommended, Coupons: Read');
    expect(await workspaceCount()).toBe(before);
  });

  it('refuses what is not a secret or restricted key', async () => {
    const res = await h.call('POST', '/workspaces', body({ stripeKey: 'pk_test_123' }));
    expect(res.status).toBe(400);
    expect(res.text).toContain('publishable');
  });

  it('refuses a key Stripe does not know', async () => {
    const before = await workspaceCount();
    const res = await h.call('POST', '/workspaces', body({ stripeKey: 'rk_test_doesNotExist1234' }));
    expect(res.status).toBe(400);
    expect(res.text).toContain('invalid or revoked');
    expect(await workspaceCount()).toBe(before);
  });

  it('refuses a revoked key', async () => {
    const key = h.sim.addRestrictedKey({ customers: 'read' });
    h.sim.revokeKey(key);
    const res = await h.call('POST', '/workspaces', body({ stripeKey: key }));
    expect(res.status).toBe(400);
    expect(res.text).toContain('invalid or revoked');
  });

  it('names every missing required permission', async () => {
    const before = await workspaceCount();
    const key = h.sim.addRestrictedKey({ customers: 'read', subscriptions: 'read', invoices: 'read', products: 'read', prices: 'read', refunds: 'read' });
    const res = await h.call('POST', '/workspaces', body({ stripeKey: key }));
    expect(res.status).toBe(400);
    const details = (res.body.error as { details: { missing: string[] } }).details;
    // Coupons: Read is recommended: its absence alone refuses nothing.
    expect(details.missing.sort()).toEqual(['charges read', 'invoices write', 'payment_intents read']);
    expect(await workspaceCount()).toBe(before);
  });

  it('answers 503 when Stripe is down, and stores nothing', async () => {
    const before = await workspaceCount();
    h.sim.setOutage({ mode: 'down' });
    try {
      const res = await h.call('POST', '/workspaces', body());
      expect(res.status).toBe(503);
      expect(res.text).toContain('nothing was stored');
    } finally {
      h.sim.clearOutage();
    }
    expect(await workspaceCount()).toBe(before);
  });

  it('names the malformed fields', async () => {
    const res = await h.call('POST', '/workspaces', { name: '', stripeKey: 'rk_test_x', webhookSecret: 'nope', extra: 1 });
    expect(res.status).toBe(400);
    const paths = (res.body.error as { details: { issues: { path: string }[] } }).details.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'webhookSecret']));
    const notJson = await h.call('POST', '/workspaces', '{"name":');
    expect(notJson.status).toBe(400);
  });

  it('is for the operator only', async () => {
    expect((await h.call('POST', '/workspaces', body(), null)).status).toBe(401);
  });
});

describe('POST /workspaces creates a workspace', () => {
  it('stores the secrets sealed, never returns them, and hands out a first owner token', async () => {
    const key = h.sim.accounts[0]!.restrictedKey;
    const res = await h.call('POST', '/workspaces', body({ settings: { historyMonths: 36 } }));
    expect(res.status).toBe(201);
    expect(res.text).not.toContain(key);
    expect(res.text).not.toContain(WEBHOOK_SECRET);
    const ws = res.body.workspace as { id: string; livemode: boolean; settings: { historyMonths: number } };
    expect(ws.livemode).toBe(false);
    expect(ws.settings.historyMonths).toBe(36);
    const validation = res.body.validation as { unverified: string[]; verified: string[] };
    expect(validation.unverified).toEqual([]);
    expect(validation.verified).toContain('invoices write');
    expect(validation.verified).toContain('customers read');
    const row = await h.db('workspaces').where({ id: ws.id }).first<{ stripe_key_ciphertext: string; webhook_secret_ciphertext: string }>();
    expect(row.stripe_key_ciphertext).toMatch(/^v1\./);
    expect(row.stripe_key_ciphertext).not.toContain(key.slice(8));
    expect(row.webhook_secret_ciphertext).not.toContain('connectTestSecret');
    const got = await h.call('GET', `/workspaces/${ws.id}`, undefined, res.body.ownerToken as string);
    expect(got.status).toBe(200);
    expect(got.text).not.toContain(key);
    expect(got.body).toMatchObject({ id: ws.id, name: 'Acme' });
  });

  it('lets the owner change the history window and the rate limit, by field', async () => {
    const res = await h.call('POST', '/workspaces', body({ name: 'Settings' }));
    const id = (res.body.workspace as { id: string }).id;
    const owner = res.body.ownerToken as string;
    const patched = await h.call('PATCH', `/workspaces/${id}/settings`, { historyMonths: 36, stripeRateLimitRps: 50 }, owner);
    expect(patched.status).toBe(200);
    expect(patched.body.settings).toEqual({ historyMonths: 36, stripeRateLimitRps: 50 });
    const back = await h.call('PATCH', `/workspaces/${id}/settings`, { stripeRateLimitRps: null }, owner);
    expect(back.body.settings).toEqual({ historyMonths: 36 });
    const bad = await h.call('PATCH', `/workspaces/${id}/settings`, { historyMonths: 0, colour: 'red' }, owner);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('historyMonths');
    expect((await h.call('PATCH', `/workspaces/${id}/settings`, { historyMonths: 12 })).status).toBe(403);
  });

  it('connects a Connect account through the platform key, once', async () => {
    const connected = h.sim.accounts[1]!;
    const platformKey = h.sim.accounts[0]!.restrictedKey;
    const first = await h.call('POST', '/workspaces', body({ name: 'Connected', stripeKey: platformKey, stripeAccount: connected.id }));
    expect(first.status).toBe(201);
    expect((first.body.workspace as { stripeAccountId: string }).stripeAccountId).toBe(connected.id);
    const again = await h.call('POST', '/workspaces', body({ name: 'Again', stripeKey: platformKey, stripeAccount: connected.id }));
    expect(again.status).toBe(409);
    const unknown = await h.call('POST', '/workspaces', body({ name: 'Nope', stripeKey: platformKey, stripeAccount: 'acct_doesNotExist' }));
    expect(unknown.status).toBe(400);
  });

  it('keeps workspaces apart: another workspace is 403 with the owner token of this one', async () => {
    const res = await h.call('POST', '/workspaces', body({ name: 'Other' }));
    const token = res.body.ownerToken as string;
    const other = await h.call('GET', '/workspaces/ws_unknownWorkspace/sync', undefined, token);
    expect(other.status).toBe(403);
    expect(other.text).toContain('ws_unknownWorkspace');
  });
});

describe("an owner connects or replaces the workspace's credentials", () => {
  /** A webhook-only workspace (no Stripe key), as the relay's deployments without a key have, and its owner's token. */
  const keylessWorkspace = async (name: string) => {
    const ws = await insertWorkspace(h.db, h.keyring, { name, webhookSecret: WEBHOOK_SECRET });
    const { token } = await createApiToken(h.db, { workspaceId: ws.id, role: 'owner', name: 'owner', createdBy: 'test' });
    return { id: ws.id, owner: token };
  };
  const keyedWorkspace = async (name: string) => {
    const res = await h.call('POST', '/workspaces', body({ name }));
    expect(res.status).toBe(201);
    return { id: (res.body.workspace as { id: string }).id, owner: res.body.ownerToken as string };
  };
  const storedKey = async (id: string) => (await findWorkspaceStripe(h.db, h.keyring, id))?.apiKey;
  const freshKey = () => h.sim.addRestrictedKey(WYSERA_PERMISSIONS);

  it('connects a key to a workspace that has none, starts its first sync, and audits it without the key', async () => {
    const { id, owner } = await keylessWorkspace('Webhook only');
    expect((await h.call('GET', `/workspaces/${id}`, undefined, owner)).body.hasStripeKey).toBe(false);
    const key = freshKey();
    const res = await h.call('PUT', `/workspaces/${id}/stripe-key`, { stripeKey: key }, owner);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(key);
    expect(res.body.workspace).toMatchObject({ id, hasStripeKey: true, stripeAccountId: null });
    expect((res.body.validation as { verified: string[] }).verified).toContain('invoices write');
    expect(res.body.sync).toMatchObject({ mode: 'full', status: 'running' });
    expect(await storedKey(id)).toBe(key);
    const [entry] = await listAudit(h.db, id, { action: 'workspace.stripe_key_connected' });
    expect(entry).toMatchObject({ before: { hasStripeKey: false }, after: { keyKind: 'restricted' } });
    expect(JSON.stringify(entry)).not.toContain(key);
  });

  it('takes a key without Coupons: Read, naming the recommended permission and what it costs', async () => {
    const { coupons: _none, ...permissions } = WYSERA_PERMISSIONS;
    const withoutCoupons = () => h.sim.addRestrictedKey(permissions);
    const expected = [{ permission: 'coupons read', without: expect.stringContaining('"before discounts"') as string }];
    const created = await h.call('POST', '/workspaces', body({ name: 'No coupons', stripeKey: withoutCoupons() }));
    expect(created.status).toBe(201);
    expect((created.body.validation as { missingRecommended: unknown }).missingRecommended).toEqual(expected);
    expect((created.body.validation as { missingRecommended: { without: string }[] }).missingRecommended[0]!.without).toMatch(/restricted to products.*item's own discount/);
    const id = (created.body.workspace as { id: string }).id;
    const owner = created.body.ownerToken as string;
    const key = withoutCoupons();
    const replaced = await h.call('PUT', `/workspaces/${id}/stripe-key`, { stripeKey: key }, owner);
    expect(replaced.status).toBe(200);
    expect((replaced.body.validation as { missingRecommended: unknown }).missingRecommended).toEqual(expected);
    expect(await storedKey(id)).toBe(key);
    const [entry] = await listAudit(h.db, id, { action: 'workspace.stripe_key_replaced' });
    expect(entry).toMatchObject({ after: { missingRecommendedPermissions: ['coupons read'] } });
    // A key with it has nothing missing.
    const full = await h.call('PUT', `/workspaces/${id}/stripe-key`, { stripeKey: freshKey() }, owner);
    expect((full.body.validation as { missingRecommended: unknown }).missingRecommended).toEqual([]);
  });

  it('replaces a rolled key without a sync unless asked, keeping the account', async () => {
    const { id, owner } = await keyedWorkspace('Rolled');
    const key = freshKey();
    const res = await h.call('PUT', `/workspaces/${id}/stripe-key`, { stripeKey: key }, owner);
    expect(res.status).toBe(200);
    expect(res.body.sync).toBeNull();
    expect(await storedKey(id)).toBe(key);
    expect(await listAudit(h.db, id, { action: 'workspace.stripe_key_replaced' })).toHaveLength(1);
  });

  it('refuses a key it cannot use, and keeps the one it had', async () => {
    const { id, owner } = await keyedWorkspace('Kept');
    const before = await storedKey(id);
    const revoked = freshKey();
    h.sim.revokeKey(revoked);
    const refusals: [Record<string, unknown>, number, string][] = [
      [{ stripeKey: revoked }, 400, 'invalid or revoked'],
      [{ stripeKey: h.sim.addRestrictedKey({ customers: 'read' }) }, 400, 'invoices write'],
      [{ stripeKey: 'rk_live_51abcdef' }, 409, 'live-mode key cannot replace the key of a test-mode workspace'],
      [{ stripeKey: freshKey(), stripeAccount: h.sim.accounts[1]!.id }, 409, 'needs a workspace of its own'],
      [{ stripeKey: 'pk_test_123' }, 400, 'publishable'],
      [{ stripeKey: freshKey(), colour: 'red' }, 400, 'colour'],
      [{}, 400, 'stripeKey'],
    ];
    for (const [request, status, says] of refusals) {
      const res = await h.call('PUT', `/workspaces/${id}/stripe-key`, request, owner);
      expect({ request, status: res.status }).toEqual({ request, status });
      expect(res.text).toContain(says);
    }
    expect(await storedKey(id)).toBe(before);
    expect(await listAudit(h.db, id, { action: 'workspace.stripe_key_replaced' })).toHaveLength(0);
  });

  it("refuses another workspace's Connect account", async () => {
    // An account of its own: no other test connects it.
    const connected = h.sim.accounts[2]!;
    const platformKey = h.sim.accounts[0]!.restrictedKey;
    const holder = await h.call('POST', '/workspaces', body({ name: 'Holder', stripeKey: platformKey, stripeAccount: connected.id }));
    expect(holder.status).toBe(201);
    const { id, owner } = await keylessWorkspace('Second');
    const res = await h.call('PUT', `/workspaces/${id}/stripe-key`, { stripeKey: platformKey, stripeAccount: connected.id }, owner);
    expect(res.status).toBe(409);
    expect(res.text).toContain('already connected to another workspace');
    expect(await storedKey(id)).toBeUndefined();
  });

  it('replaces the webhook signing secret: deliveries signed with the new one are taken at once, the old one no longer', async () => {
    const { id, owner } = await keylessWorkspace('Rolled secret');
    const deliver = async (secret: string, eventId: string) => {
      const payload = JSON.stringify({ id: eventId, object: 'event', type: 'customer.created', created: Math.floor(Date.now() / 1000), livemode: false, data: { object: { id: 'cus_rolled', object: 'customer' } } });
      const res = await fetch(`${h.baseUrl}/webhooks/stripe/${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }) },
        body: payload,
      });
      return res.status;
    };
    // The first delivery puts the old secret in the ingress's cache.
    expect(await deliver(WEBHOOK_SECRET, 'evt_before_roll')).toBe(200);
    const rolled = 'whsec_rolledSecret456';
    const res = await h.call('PUT', `/workspaces/${id}/webhook-secret`, { webhookSecret: rolled }, owner);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(rolled);
    expect(await deliver(rolled, 'evt_after_roll')).toBe(200);
    expect(await deliver(WEBHOOK_SECRET, 'evt_old_secret')).toBe(400);
    expect(await h.db('webhook_inbox').where({ workspace_id: id }).pluck('event_id')).toEqual(expect.arrayContaining(['evt_before_roll', 'evt_after_roll']));
    expect(await h.db('webhook_inbox').where({ workspace_id: id, event_id: 'evt_old_secret' }).first()).toBeUndefined();
    expect(await listAudit(h.db, id, { action: 'workspace.webhook_secret_replaced' })).toHaveLength(1);
    const bad = await h.call('PUT', `/workspaces/${id}/webhook-secret`, { webhookSecret: 'secret' }, owner);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('whsec_');
  });

  it('is for owners only', async () => {
    const { id } = await keylessWorkspace('Roles');
    const { token: finance } = await createApiToken(h.db, { workspaceId: id, role: 'finance', name: 'finance', createdBy: 'test' });
    expect((await h.call('PUT', `/workspaces/${id}/stripe-key`, { stripeKey: freshKey() }, finance)).status).toBe(403);
    expect((await h.call('PUT', `/workspaces/${id}/webhook-secret`, { webhookSecret: 'whsec_abc' }, finance)).status).toBe(403);
    expect(await storedKey(id)).toBeUndefined();
  });
});

describe('the command line replaces credentials', () => {
  /** Runs `npm run wysera -- ...args` against this API; never throws, so a refusal can be read. */
  const wysera = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'scripts/wysera.ts', ...args], { env: { ...process.env, WYSERA_API_URL: h.baseUrl, ...env } }, (err, _stdout, stderr) => {
        resolve({ code: err ? Number(err.code ?? 1) : 0, stderr });
      });
    });

  it('takes the key and the secret from the environment, and says why a key is refused', async () => {
    const res = await h.call('POST', '/workspaces', body({ name: 'Command line' }));
    const id = (res.body.workspace as { id: string }).id;
    const owner = { WYSERA_TOKEN: res.body.ownerToken as string, WYSERA_WORKSPACE: id };
    const key = h.sim.addRestrictedKey(WYSERA_PERMISSIONS);
    const stored = await wysera(['workspace', 'set-key'], { ...owner, STRIPE_API_KEY: key });
    expect(stored).toMatchObject({ code: 0 });
    expect(stored.stderr).toContain(`stored the new Stripe key of ${id}`);
    expect((await findWorkspaceStripe(h.db, h.keyring, id))?.apiKey).toBe(key);

    const revoked = h.sim.addRestrictedKey(WYSERA_PERMISSIONS);
    h.sim.revokeKey(revoked);
    const refused = await wysera(['workspace', 'set-key'], { ...owner, STRIPE_API_KEY: revoked });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/answered 400: Stripe rejected the key as invalid or revoked/);
    expect((await findWorkspaceStripe(h.db, h.keyring, id))?.apiKey).toBe(key);

    const secret = await wysera(['workspace', 'set-webhook-secret'], { ...owner, STRIPE_WEBHOOK_SECRET: 'whsec_fromTheCommandLine' });
    expect(secret).toMatchObject({ code: 0 });
    expect(await findWebhookSecret(h.db, h.keyring, id)).toBe('whsec_fromTheCommandLine');
  });
});
