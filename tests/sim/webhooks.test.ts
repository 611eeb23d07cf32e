import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server';

const SECRET = 'whsec_simulator_test_secret';

interface Received {
  body: string;
  signature: string;
}

/** A receiver that answers 500 to the first `failFirst` deliveries, then 200. */
async function receiver(failFirst: number): Promise<{ url: string; received: Received[]; attempts: () => number; close: () => Promise<void> }> {
  const received: Received[] = [];
  let attempts = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      if (attempts <= failFirst) {
        res.writeHead(500).end('try later');
        return;
      }
      received.push({ body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['stripe-signature']) });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    attempts: () => attempts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('webhooks as simulated time advances', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 21, customers: 400, months: 12, rateLimit: 0, webhookRetryDelaysMs: [50, 100, 200] });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('delivers every new event once, signed so that constructEvent verifies it, retrying non-2xx', async () => {
    const hook = await receiver(2);
    try {
      const endpoint = sim.addWebhookEndpoint(hook.url, SECRET);
      const account = sim.account();
      const before = account.events.size;
      sim.advance(10 * 86_400);
      const emitted = account.events.rows.slice(before);
      expect(emitted.length).toBeGreaterThan(20);
      await sim.webhooksIdle(30_000);

      const verified = hook.received.map((r) => Stripe.webhooks.constructEvent(r.body, r.signature, SECRET));
      expect(verified.map((e) => e.id).sort()).toEqual(emitted.map((e) => e.id).sort());
      expect(new Set(verified.map((e) => e.id)).size).toBe(verified.length);
      const types = new Set(verified.map((e) => e.type));
      expect([...types]).toEqual(expect.arrayContaining(['customer.subscription.updated', 'invoice.paid']));
      // Two refusals, each retried.
      expect(hook.attempts()).toBe(emitted.length + 2);
      expect(sim.stats().webhooks.failedAttempts).toBeGreaterThanOrEqual(2);

      // A wrong secret does not verify: the signature really is over the body.
      const first = hook.received[0]!;
      expect(() => Stripe.webhooks.constructEvent(first.body, first.signature, 'whsec_other')).toThrow(Stripe.errors.StripeSignatureVerificationError);
      expect(() => Stripe.webhooks.constructEvent(first.body.replace('"livemode": false', '"livemode": true'), first.signature, SECRET)).toThrow();
      // Each event carries the object as it was when the event happened.
      const event = verified[0]!;
      expect(event.created).toBeGreaterThan(0);
      expect((event.data.object as { object: string }).object).toBeTruthy();
      expect(sim.removeWebhookEndpoint(endpoint.id)).toBe(true);
    } finally {
      await hook.close();
    }
  });

  it('gives up after the last retry and counts it', async () => {
    const dead = await receiver(Number.POSITIVE_INFINITY);
    try {
      const endpoint = sim.addWebhookEndpoint(dead.url, SECRET);
      const stats = sim.stats().webhooks;
      const account = sim.account();
      const before = account.events.size;
      sim.advance(86_400);
      const emitted = account.events.size - before;
      expect(emitted).toBeGreaterThan(0);
      await sim.webhooksIdle(30_000);
      const after = sim.stats().webhooks;
      expect(after.gaveUp - stats.gaveUp).toBe(emitted);
      // One first attempt plus three retries each.
      expect(dead.attempts()).toBe(emitted * 4);
      expect(sim.removeWebhookEndpoint(endpoint.id)).toBe(true);
    } finally {
      await dead.close();
    }
  });

  it('registers endpoints and advances time over the control API', async () => {
    const hook = await receiver(0);
    try {
      const reg = await fetch(`${sim.url}/_sim/webhooks`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ url: hook.url, secret: SECRET }) });
      expect(reg.status).toBe(200);
      const { id } = (await reg.json()) as { id: string };
      const before = sim.account().now;
      const adv = await fetch(`${sim.url}/_sim/advance`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ seconds: 2 * 86_400 }) });
      expect(adv.status).toBe(200);
      const info = (await adv.json()) as { accounts: Array<{ id: string; now: number }> };
      expect(info.accounts[0]!.now).toBe(before + 2 * 86_400);
      await sim.webhooksIdle(30_000);
      expect(hook.received.length).toBeGreaterThan(0);
      for (const r of hook.received) expect(() => Stripe.webhooks.constructEvent(r.body, r.signature, SECRET)).not.toThrow();
      const bad = await fetch(`${sim.url}/_sim/advance`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ seconds: -5 }) });
      expect(bad.status).toBe(400);
      expect((await fetch(`${sim.url}/_sim/webhooks/${id}`, { method: 'DELETE' })).status).toBe(200);
    } finally {
      await hook.close();
    }
  });
});
