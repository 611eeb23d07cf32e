import type { RequestListener, Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApi } from '../../api/app';
import type { EtagOf } from '../../api/webhooks';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createMetrics } from '../../platform/metrics';
import { createTemporalClient } from '../../platform/temporal';
import { startApi, type TestApi } from '../helpers/api';
import { serveOnLoopback } from '../setup/loopback';
import { freshDatabase } from '../helpers/db';
import { signatureFor, stripeEvent, stripeFixture } from '../helpers/stripe';

/**
 * Stripe's deliveries in their canonical form are served by the webhook front door,
 * beside Express; every other form by Express's webhook route (api/webhook-front-door.ts).
 * Both must answer alike.
 */
describe('webhook front door', () => {
  const keyring = parseKeyring(generateKeySpec());
  const secret = 'whsec_front_door';
  const workspaceId = 'ws_front_door';
  const maxBytes = 64 * 1024;
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase();
    await insertWorkspace(database.db, keyring, { id: workspaceId, name: 'Front door', webhookSecret: secret });
  });
  afterAll(async () => {
    await database?.drop();
  });

  let serial = 0;
  /** A new signed event's body and its headers. */
  const signedEvent = (customer = 'cus_front_door') => {
    const body = JSON.stringify(stripeEvent('invoice.payment_failed', { ...stripeFixture('invoice'), customer }, { id: `evt_front_door_${++serial}` }));
    return { body, headers: { 'content-type': 'application/json', 'stripe-signature': signatureFor(body, secret) } };
  };
  const storedEvents = async () => Number((await database.db('webhook_inbox').where({ workspace_id: workspaceId }).count<{ n: string }[]>({ n: '*' }))[0]!.n);

  describe('which requests it serves', () => {
    let server: Server;
    let url: string;
    let connection: ReturnType<typeof createTemporalClient>['connection'];
    beforeAll(async () => {
      ({ connection } = createTemporalClient({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: 'default' }));
      const api = createApi({ db: database.db, temporal: connection, keyring, log: pino({ level: 'silent' }), metrics: createMetrics(), webhookMaxBytes: maxBytes });
      // What the front door leaves to the app gets 599 here instead of the app's answer.
      (api.app as unknown as { handle: RequestListener }).handle = (req, res) => {
        req.resume();
        res.statusCode = 599;
        res.end('left to the app');
      };
      ({ server, url } = await serveOnLoopback(api.serve));
    });
    afterAll(async () => {
      await new Promise((resolve) => server?.close(resolve));
      await connection?.close();
    });

    it('stores a delivery posted to the canonical path, with or without a query or an identity encoding', async () => {
      const before = await storedEvents();
      for (const [query, extra] of [['', {}], ['?attempt=2', {}], ['', { 'content-encoding': 'identity' }]] as const) {
        const { body, headers } = signedEvent();
        const res = await fetch(`${url}/webhooks/stripe/${workspaceId}${query}`, { method: 'POST', headers: { ...headers, ...extra }, body });
        expect(res.status, query).toBe(200);
        expect(await res.json()).toEqual({ received: true, duplicate: false });
      }
      expect(await storedEvents()).toBe(before + 3);
    });

    it('leaves every other form to the app, untouched', async () => {
      const { body, headers } = signedEvent();
      const others: [string, RequestInit][] = [
        [`/webhooks/stripe/${workspaceId}/`, { method: 'POST', headers, body }],
        [`/Webhooks/Stripe/${workspaceId}`, { method: 'POST', headers, body }],
        [`/webhooks/stripe/ws%5Ffront_door`, { method: 'POST', headers, body }],
        [`/webhooks/stripe/${workspaceId}/extra`, { method: 'POST', headers, body }],
        [`/webhooks/stripe/${workspaceId}`, { method: 'GET' }],
        [`/webhooks/stripe/${workspaceId}`, { method: 'PUT', headers, body }],
        [`/webhooks/stripe/${workspaceId}`, { method: 'POST', headers: { ...headers, 'content-encoding': 'gzip' }, body: gzipSync(body) }],
      ];
      const before = await storedEvents();
      for (const [path, init] of others) {
        const res = await fetch(url + path, init);
        expect(res.status, `${init.method} ${path}`).toBe(599);
        expect(await res.text()).toBe('left to the app');
      }
      expect(await storedEvents()).toBe(before);
    });
  });

  describe('answers as Express’s webhook route does', () => {
    let api: TestApi;
    let limited: TestApi;
    beforeAll(async () => {
      api = await startApi(database.db, keyring, { webhookMaxBytes: maxBytes });
      limited = await startApi(database.db, keyring, { webhookMaxBytes: maxBytes, webhookRequestsPerMinute: 2 });
    });
    afterAll(async () => {
      await api?.close();
      await limited?.close();
    });

    /** Status, body and headers, less those that differ by the moment or the connection. */
    const answerOf = async (res: Response) => {
      const headers = Object.fromEntries([...res.headers].filter(([name]) => !['date', 'connection', 'keep-alive'].includes(name)));
      // Between two deliveries the count left goes down by one, and the seconds left in
      // the window can tick over: both are compared apart.
      const window = { remaining: headers.ratelimit?.match(/r=(\d+)/)?.[1], seconds: headers.ratelimit?.match(/t=(\d+)/)?.[1], retryAfter: headers['retry-after'] };
      if (headers.ratelimit) headers.ratelimit = headers.ratelimit.replace(/r=\d+/, 'r=_').replace(/t=\d+/, 't=_');
      delete headers['retry-after'];
      return { status: res.status, body: await res.text(), headers, window };
    };
    type Delivery = { body?: string; headers?: Record<string, string> };
    /**
     * Posts `toFront` to the canonical path (the front door), then `toApp` with a trailing
     * slash (Express). `signed`: whether the first one's signature holds, so that it counts.
     */
    const both = async (base: string, toFront: Delivery, toApp: Delivery = toFront, workspace = workspaceId, signed = true) => {
      const front = await answerOf(await fetch(`${base}/webhooks/stripe/${workspace}`, { method: 'POST', ...toFront }));
      const app = await answerOf(await fetch(`${base}/webhooks/stripe/${workspace}/`, { method: 'POST', ...toApp }));
      // Counted in one window: one fewer left after a signed first (none is none), within a second of the first.
      const left = front.window.remaining === undefined ? undefined : String(Math.max(Number(front.window.remaining) - (signed ? 1 : 0), 0));
      expect(app.window.remaining).toBe(left);
      for (const key of ['seconds', 'retryAfter'] as const) {
        expect(front.window[key] === undefined).toBe(app.window[key] === undefined);
        if (front.window[key] !== undefined) expect(Math.abs(Number(front.window[key]) - Number(app.window[key]))).toBeLessThanOrEqual(1);
      }
      return { front: { status: front.status, body: front.body, headers: front.headers }, app: { status: app.status, body: app.body, headers: app.headers }, retryAfter: front.window.retryAfter };
    };

    it('accepts new and repeated events with the same answer', async () => {
      const before = await storedEvents();
      const a = signedEvent();
      const b = signedEvent();
      const fresh = await both(api.url, a, b);
      expect(fresh.front.status).toBe(200);
      expect(fresh.front.body).toBe(JSON.stringify({ received: true, duplicate: false }));
      expect(fresh.front.headers.etag).toBe((express().get('etag fn') as EtagOf)(fresh.front.body, 'utf8'));
      expect(fresh.app).toEqual(fresh.front);
      const repeated = await both(api.url, b, a);
      expect(repeated.front.body).toBe(JSON.stringify({ received: true, duplicate: true }));
      expect(repeated.app).toEqual(repeated.front);
      expect(await storedEvents()).toBe(before + 2);
    });

    it('rejects what it must with the same status, message and headers, and stores nothing', async () => {
      const before = await storedEvents();
      const { body, headers } = signedEvent();
      const envelopeless = JSON.stringify({ id: 'evt_front_door_bare', object: 'event' });
      // Only a delivery whose signature holds counts against the rate limit.
      const cases: [string, number, Delivery, string?, boolean?][] = [
        ['no signature', 400, { body, headers: { 'content-type': 'application/json' } }],
        ['a wrong signature', 400, { body, headers: { ...headers, 'stripe-signature': signatureFor(body, 'whsec_other') } }],
        ['an expired signature', 400, { body, headers: { ...headers, 'stripe-signature': signatureFor(body, secret, Math.floor(Date.now() / 1000) - 3600) } }],
        ['no body', 400, { headers }],
        ['a body that is not JSON', 400, { body: 'not json', headers: { ...headers, 'stripe-signature': signatureFor('not json', secret) } }, undefined, true],
        ['JSON that is no Stripe event', 400, { body: envelopeless, headers: { ...headers, 'stripe-signature': signatureFor(envelopeless, secret) } }, undefined, true],
        ['a body over the limit', 413, { body: 'x'.repeat(maxBytes + 1), headers }],
        ['an unknown workspace', 404, { body, headers }, 'ws_nobody'],
        ['a malformed workspace id', 400, { body, headers }, 'nobody'],
      ];
      for (const [what, status, delivery, workspace, signed = false] of cases) {
        const { front, app } = await both(api.url, delivery, delivery, workspace, signed);
        expect(front.status, what).toBe(status);
        expect(JSON.parse(front.body), what).toMatchObject({ error: { status } });
        expect(app, what).toEqual(front);
      }
      expect(await storedEvents()).toBe(before);
    });

    it('counts both against one rate limit and answers 429 alike past it', async () => {
      const first = await both(limited.url, signedEvent(), signedEvent());
      expect([first.front.status, first.app.status]).toEqual([200, 200]);
      const past = await both(limited.url, signedEvent(), signedEvent());
      expect(past.front.status).toBe(429);
      expect(past.retryAfter).toMatch(/^\d+$/);
      expect(past.app).toEqual(past.front);
    });

    it('still stores a compressed delivery, through Express', async () => {
      const before = await storedEvents();
      const { body, headers } = signedEvent();
      const res = await fetch(`${api.url}/webhooks/stripe/${workspaceId}`, { method: 'POST', headers: { ...headers, 'content-encoding': 'gzip' }, body: gzipSync(body) });
      expect(res.status).toBe(200);
      expect(await storedEvents()).toBe(before + 1);
    });
  });
});
