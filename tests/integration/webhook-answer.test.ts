import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { signatureFor, stripeEvent, stripeFixture } from '../helpers/stripe';

/**
 * What an accepted webhook leaves behind: the answer, header for header as res.json
 * would send it, and the event stored as Stripe sent it.
 */
describe('accepted webhook: answer and stored payload', () => {
  const keyring = parseKeyring(generateKeySpec());
  const secret = 'whsec_answer';
  const workspaceId = 'ws_answer';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let api: TestApi;

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: workspaceId, name: 'Answer', webhookSecret: secret });
    api = await startApi(database.db, keyring);
  });
  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  const post = (body: string) =>
    fetch(`${api.url}/webhooks/stripe/${workspaceId}`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signatureFor(body, secret) }, body });

  it('answers a new and a repeated event with the JSON, content type, length and ETag res.json sends', async () => {
    // Express's own ETag function, as res.json applies it.
    const etagOf = express().get('etag fn') as (body: string, encoding: string) => string;
    const body = JSON.stringify(stripeEvent('invoice.payment_failed', { ...stripeFixture('invoice'), customer: 'cus_answer' }));
    for (const duplicate of [false, true]) {
      const res = await post(body);
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(text).toBe(JSON.stringify({ received: true, duplicate }));
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(res.headers.get('content-length')).toBe(String(text.length));
      expect(res.headers.get('etag')).toBe(etagOf(text, 'utf8'));
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('stores the verified body as sent, byte for byte, numbers JavaScript cannot hold included', async () => {
    const event = stripeEvent('invoice.payment_failed', { ...stripeFixture('invoice'), customer: 'cus_exact' });
    // A number past 2^53 and one with a trailing zero: JSON.parse and JSON.stringify would change both.
    const body = JSON.stringify(event).replace('"object":"event"', '"object":"event","probe_big":12345678901234567890123,"probe_fixed":1.50');
    expect((await post(body)).status).toBe(200);
    const { rows } = await database.db.raw<{ rows: { big: string; fixed: string; same: boolean }[] }>(
      `select payload->>'probe_big' as big, payload->>'probe_fixed' as fixed, payload::text = ? as same from webhook_inbox where event_id = ?`,
      [body, String(event.id)],
    );
    expect(rows).toEqual([{ big: '12345678901234567890123', fixed: '1.50', same: true }]);
  });

  it('keeps a signed event holding \\u0000, each made U+FFFD (no Postgres text can hold a NUL), the rest as sent; an escaped backslash before u0000 is no NUL', async () => {
    const nul = stripeEvent('invoice.payment_failed', { ...stripeFixture('invoice'), customer: 'cus_nul', description: 'a\u0000b' });
    const res = await post(JSON.stringify(nul));
    expect(res.status).toBe(200);
    const stored = await database.db('webhook_inbox').where({ event_id: String(nul.id) }).first<{ payload: { data: { object: { description: string } } } }>();
    expect(stored.payload.data.object.description).toBe('a\ufffdb');
    const literal = stripeEvent('invoice.payment_failed', { ...stripeFixture('invoice'), customer: 'cus_nul', description: 'C:\\u0000' });
    expect(JSON.stringify(literal)).toContain('\\\\u0000');
    expect((await post(JSON.stringify(literal))).status).toBe(200);
    const kept = await database.db('webhook_inbox').where({ event_id: String(literal.id) }).first<{ payload: { data: { object: { description: string } } } }>();
    expect(kept.payload.data.object.description).toBe('C:\\u0000');
  });
});
