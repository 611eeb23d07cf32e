import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { signatureFor, stripeEvent, stripeFixture } from '../helpers/stripe';

/**
 * Throws random and malformed requests at the webhook endpoint. Whatever arrives, the
 * answer is never a 5xx, and nothing is stored unless it is correctly signed for the
 * workspace it was posted to.
 */
describe('webhook endpoint under fuzzing', () => {
  const keyring = parseKeyring(generateKeySpec());
  const secrets = { ws_fuzz_a: 'whsec_fuzz_a', ws_fuzz_b: 'whsec_fuzz_b' } as const;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;

  beforeAll(async () => {
    database = await freshDatabase();
    for (const [id, secret] of Object.entries(secrets)) await insertWorkspace(database.db, keyring, { id, name: id, webhookSecret: secret });
    api = await startApi(database.db, keyring, { webhookMaxBytes: 16 * 1024 });
  });
  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  const rowCount = async () => Number((await database.db('webhook_inbox').count<{ count: string }[]>('* as count'))[0]!.count);
  const post = async (workspace: string, body: string | Uint8Array, headers: Record<string, string>) => {
    const res = await fetch(`${api.url}/webhooks/stripe/${workspace}`, { method: 'POST', headers, body });
    await res.arrayBuffer();
    return res.status;
  };

  const validEvent = () => JSON.stringify(stripeEvent('invoice.payment_failed', { ...stripeFixture('invoice'), customer: 'cus_fuzz' }));

  it('answers arbitrary bodies, headers and paths with 4xx and stores nothing', async () => {
    const before = await rowCount();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom('ws_fuzz_a', 'ws_fuzz_b', 'ws_missing', 'not-a-workspace', '%00', 'ws_' + 'x'.repeat(80))),
        fc.oneof(fc.string(), fc.json(), fc.uint8Array({ maxLength: 2048 }), fc.constant(validEvent())),
        fc.oneof(
          fc.constant<Record<string, string>>({}),
          fc.string().map((s): Record<string, string> => ({ 'stripe-signature': s.replace(/[\r\n]/g, '') })),
          fc.tuple(fc.integer({ min: 0, max: 2 ** 31 }), fc.stringMatching(/^[0-9a-f]{64}$/)).map(([t, h]): Record<string, string> => ({ 'stripe-signature': `t=${t},v1=${h}` })),
          fc.constantFrom<Record<string, string>>({ 'content-type': 'text/plain' }, { 'content-type': 'application/json; charset=utf-16' }),
        ),
        async (workspace, body, headers) => {
          const status = await post(workspace, typeof body === 'string' ? body : body, headers);
          expect(status).toBeGreaterThanOrEqual(400);
          expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
    expect(await rowCount()).toBe(before);
  });

  it('refuses correctly signed bodies replayed with an old timestamp, or posted to another workspace', async () => {
    const before = await rowCount();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 301, max: 10 * 365 * 86400 }), async (age) => {
        const body = validEvent();
        const old = signatureFor(body, secrets.ws_fuzz_a, Math.floor(Date.now() / 1000) - age);
        expect(await post('ws_fuzz_a', body, { 'stripe-signature': old })).toBe(400);
        const forA = signatureFor(body, secrets.ws_fuzz_a);
        expect(await post('ws_fuzz_b', body, { 'stripe-signature': forA })).toBe(400);
      }),
      { numRuns: 30 },
    );
    expect(await rowCount()).toBe(before);
  });

  it('answers correctly signed events with odd ids, times and customers with 200 or a 4xx, never a 5xx', async () => {
    const text = (max: number) => fc.oneof(fc.string({ maxLength: max }), fc.stringMatching(/^\w+$/).map((w) => w.repeat(1 + Math.floor(max / Math.max(1, w.length)))));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(text(40), text(6000).map((s) => `evt_${s}`)),
        fc.oneof(fc.integer(), fc.double(), fc.constantFrom(2 ** 53 - 1, 8.64e12, 253402300800, Number.MAX_SAFE_INTEGER)),
        fc.oneof(text(40), text(6000).map((s) => `cus_${s}`)),
        async (id, created, customer) => {
          const event = { ...stripeEvent('invoice.payment_failed', { ...stripeFixture('invoice'), id: `in_${customer.slice(0, 10)}`, customer }), id, created };
          const body = JSON.stringify(event);
          const res = await fetch(`${api.url}/webhooks/stripe/ws_fuzz_a`, { method: 'POST', headers: { 'stripe-signature': signatureFor(body, secrets.ws_fuzz_a) }, body });
          const answer = (await res.json()) as { error?: { message: string } };
          expect(res.status, JSON.stringify(answer)).toBeLessThan(500);
          if (res.status !== 200) expect(answer.error?.message).toMatch(/id|created|customer/);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('refuses signed JSON that is not a Stripe event, naming the field', async () => {
    const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'x', created: 'yesterday', livemode: false, data: { object: { object: 'invoice' } } });
    const res = await fetch(`${api.url}/webhooks/stripe/ws_fuzz_a`, { method: 'POST', headers: { 'stripe-signature': signatureFor(body, secrets.ws_fuzz_a) }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/created/);
  });

  it('refuses a signed thin event, saying Wysera reads snapshot events, and stores nothing', async () => {
    const before = await rowCount();
    const body = JSON.stringify({
      id: 'evt_test_65R9Ijk8cxdmSQGt',
      object: 'v2.core.event',
      type: 'v1.invoice.payment_failed',
      livemode: false,
      created: '2026-11-29T00:00:00.000Z',
      related_object: { id: 'in_1', type: 'invoice', url: '/v1/invoices/in_1' },
    });
    const res = await fetch(`${api.url}/webhooks/stripe/ws_fuzz_a`, { method: 'POST', headers: { 'stripe-signature': signatureFor(body, secrets.ws_fuzz_a) }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      'a thin event (v1.invoice.payment_failed): Wysera reads snapshot events, whose payload holds the object; send these events from an event destination whose payload style is snapshot (a webhook endpoint\'s default)',
    );
    expect(await rowCount()).toBe(before);
  });

  it('stores each correctly signed event once, however many times it is posted', async () => {
    const before = await rowCount();
    const bodies = Array.from({ length: 20 }, validEvent);
    const posts = bodies.flatMap((b) => [b, b, b]).map((b) => post('ws_fuzz_a', b, { 'stripe-signature': signatureFor(b, secrets.ws_fuzz_a) }));
    expect(new Set(await Promise.all(posts))).toEqual(new Set([200]));
    expect(await rowCount()).toBe(before + 20);
  });
});
