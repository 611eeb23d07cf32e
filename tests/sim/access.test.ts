import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server';

const client = (sim: Simulator, key: string, extra: Partial<Stripe.StripeConfig> = {}): Stripe =>
  new Stripe(key, { host: '127.0.0.1', port: sim.port, protocol: 'http', maxNetworkRetries: 0, ...extra });

describe('keys, permissions and connected accounts', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 5, customers: 60, months: 6, now: 1_780_000_000, rateLimit: 0, connected: [{ customers: 20 }] });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('an unknown key gets a 401 that stripe-node raises as StripeAuthenticationError', async () => {
    const err: unknown = await client(sim, 'sk_test_unknownkey1234').customers.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(err).toMatchObject({ statusCode: 401, rawType: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_**********1234' });
  });

  it("dates each answer by the account's simulated clock, as Stripe dates its answers by its own", async () => {
    const res = await fetch(`${sim.url}/v1/customers?limit=1`, { headers: { authorization: `Bearer ${sim.accounts[0]!.secretKey}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('date')).toBe(new Date(sim.account().now * 1000).toUTCString());
    expect(sim.account().now).toBeLessThan(Date.now() / 1000 - 86_400);
  });

  it('a missing key gets a 401 in Stripe shape', async () => {
    const res = await fetch(`${sim.url}/v1/customers`);
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/^You did not provide an API key/);
  });

  it('a revoked key gets a 401 api_key_expired', async () => {
    const key = sim.addRestrictedKey({ customers: 'read' });
    await expect(client(sim, key).customers.list({ limit: 1 })).resolves.toMatchObject({ object: 'list' });
    expect(sim.revokeKey(key)).toBe(true);
    const err: unknown = await client(sim, key).customers.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(err).toMatchObject({ statusCode: 401, code: 'api_key_expired' });
  });

  it('a restricted key without a permission gets Stripe\'s 403 naming the permission', async () => {
    const key = sim.addRestrictedKey({ charges: 'read', invoices: 'read' });
    const account = sim.accounts[0]!.id;
    const err: unknown = await client(sim, key).customers.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripePermissionError);
    expect(err).toMatchObject({ statusCode: 403, rawType: 'invalid_request_error' });
    expect((err as Error).message).toBe(
      `The provided key 'rk_test_${'*'.repeat(key.length - 'rk_test_'.length - 6)}${key.slice(-6)}' does not have the required permissions for this endpoint on account '${account}'. Having the 'rak_customer_read' permission would allow this request to continue.`,
    );
    // Reading works; paying needs write.
    const invoice = sim.account().invoices.rows.find((i) => i.status === 'open') ?? sim.account().invoices.rows[0]!;
    await expect(client(sim, key).invoices.retrieve(invoice.id)).resolves.toMatchObject({ id: invoice.id });
    const payErr: unknown = await client(sim, key).invoices.pay(invoice.id, { paid_out_of_band: true }).catch((e: unknown) => e);
    expect(payErr).toBeInstanceOf(Stripe.errors.StripePermissionError);
    expect((payErr as Error).message).toContain("'rak_invoice_write'");
  });

  it('the default restricted key can do everything a sync and the plays need', async () => {
    const stripe = client(sim, sim.accounts[0]!.restrictedKey);
    await expect(stripe.customers.list({ limit: 1 })).resolves.toBeTruthy();
    await expect(stripe.products.list({ limit: 1 })).resolves.toBeTruthy();
    await expect(stripe.prices.list({ limit: 1 })).resolves.toBeTruthy();
    await expect(stripe.subscriptions.list({ limit: 1 })).resolves.toBeTruthy();
    await expect(stripe.invoices.list({ limit: 1 })).resolves.toBeTruthy();
    await expect(stripe.charges.list({ limit: 1 })).resolves.toBeTruthy();
    await expect(stripe.refunds.list({ limit: 1 })).resolves.toBeTruthy();
    await expect(stripe.paymentIntents.list({ limit: 1 })).resolves.toBeTruthy();
    await expect(stripe.events.list({ limit: 1 })).resolves.toBeTruthy();
    await expect(stripe.accounts.retrieveCurrent()).resolves.toMatchObject({ id: sim.accounts[0]!.id, object: 'account' });
  });

  it('Stripe-Account selects a connected account; a foreign one is refused', async () => {
    const platform = sim.accounts[0]!;
    const connected = sim.accounts[1]!;
    expect(connected.platform).toBe(platform.id);
    expect(connected.id).toMatch(/^acct_/);
    const stripe = client(sim, platform.secretKey);
    const own = await stripe.customers.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
    const theirs = await stripe.customers.list({ limit: 100 }, { stripeAccount: connected.id }).autoPagingToArray({ limit: 1000 });
    expect(own.length).toBe(sim.account(platform.id).customers.size);
    expect(theirs.length).toBe(sim.account(connected.id).customers.size);
    expect(theirs.map((c) => c.id)).not.toEqual(own.map((c) => c.id));
    await expect(stripe.accounts.retrieveCurrent({}, { stripeAccount: connected.id })).resolves.toMatchObject({ id: connected.id });
    await expect(stripe.accounts.retrieve(connected.id)).resolves.toMatchObject({ id: connected.id, object: 'account' });
    await expect(client(sim, connected.secretKey).accounts.retrieve(platform.id)).rejects.toMatchObject({ statusCode: 404 });
    // Connect events name their account.
    const events = await stripe.events.list({ limit: 1 }, { stripeAccount: connected.id });
    expect(events.data[0]?.account).toBe(connected.id);

    const err: unknown = await stripe.customers.list({}, { stripeAccount: 'acct_1NotConnected00' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripePermissionError);
    expect(err).toMatchObject({ statusCode: 403, code: 'account_invalid' });
    // A connected account's own key cannot reach the platform.
    const back: unknown = await client(sim, connected.secretKey).customers.list({}, { stripeAccount: platform.id }).catch((e: unknown) => e);
    expect(back).toMatchObject({ statusCode: 403, code: 'account_invalid' });
  });
});

describe('rate limiting', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 6, customers: 30, months: 3, now: 1_780_000_000, rateLimit: 5 });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('refuses requests above the configured rate with 429 rate_limit, and counts them', async () => {
    const stripe = client(sim, sim.accounts[0]!.secretKey);
    sim.resetStats();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => stripe.customers.list({ limit: 1 })));
    const refused = results.filter((r) => r.status === 'rejected');
    // A full bucket holds one second's worth: 5 pass at once, the rest are refused
    // (a few more may pass if the machine is slow enough for the bucket to refill).
    const passed = results.length - refused.length;
    expect(passed).toBeGreaterThanOrEqual(5);
    expect(refused.length).toBeGreaterThanOrEqual(10);
    for (const r of refused) {
      const reason: unknown = (r).reason;
      expect(reason).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(reason).toMatchObject({ statusCode: 429, code: 'rate_limit' });
    }
    const stats = sim.stats();
    expect(stats.rateLimited).toBe(refused.length);
    expect(stats.rateLimitedByAccount[sim.accounts[0]!.id]).toBe(refused.length);
    expect(stats.byStatus['429']).toBe(refused.length);
    expect(stats.byStatus['200']).toBe(passed);

    // Stripe's headers: stripe-node retries a 429 because Stripe-Should-Retry says so.
    const res = await fetch(`${sim.url}/v1/customers`, { headers: { Authorization: `Bearer ${sim.accounts[0]!.secretKey}` } });
    expect(res.status).toBe(429);
    expect(res.headers.get('stripe-should-retry')).toBe('true');
  });

  it('a client pacing itself under the limit is never refused', async () => {
    sim.setRateLimit(20);
    await new Promise((r) => setTimeout(r, 1100));
    sim.resetStats();
    const stripe = client(sim, sim.accounts[0]!.secretKey);
    for (let i = 0; i < 30; i++) {
      await stripe.customers.list({ limit: 1 });
      await new Promise((r) => setTimeout(r, 60));
    }
    expect(sim.stats().rateLimited).toBe(0);
    expect(sim.stats().byPath['GET /v1/customers']).toBe(30);
  });

  it('stripe-node with retries gets through a burst', async () => {
    sim.setRateLimit(5);
    await new Promise((r) => setTimeout(r, 1100));
    sim.resetStats();
    const stripe = client(sim, sim.accounts[0]!.secretKey, { maxNetworkRetries: 5 });
    const results = await Promise.all(Array.from({ length: 20 }, () => stripe.customers.list({ limit: 1 })));
    expect(results).toHaveLength(20);
    expect(sim.stats().rateLimited).toBeGreaterThan(0);
  });
});

describe('outages', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 8, customers: 30, months: 3, now: 1_780_000_000, rateLimit: 0, connected: [{ customers: 10 }] });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('5xx: api_error until cleared', async () => {
    const stripe = client(sim, sim.accounts[0]!.secretKey);
    sim.setOutage({ mode: 'error' });
    const err: unknown = await stripe.customers.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(err).toMatchObject({ statusCode: 500, rawType: 'api_error' });
    sim.clearOutage();
    await expect(stripe.customers.list({ limit: 1 })).resolves.toMatchObject({ object: 'list' });
  });

  it('an outage with a duration ends by itself; stripe-node retries through it', async () => {
    sim.setOutage({ mode: 'error', durationMs: 300 });
    const stripe = client(sim, sim.accounts[0]!.secretKey, { maxNetworkRetries: 6 });
    await expect(stripe.customers.list({ limit: 1 })).resolves.toMatchObject({ object: 'list' });
    expect(sim.stats().outageRefusals).toBeGreaterThan(0);
  });

  it('timeout: requests hang until the client gives up', async () => {
    sim.setOutage({ mode: 'timeout' });
    const stripe = client(sim, sim.accounts[0]!.secretKey, { timeout: 300 });
    const started = Date.now();
    const err: unknown = await stripe.customers.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    sim.clearOutage();
    await expect(client(sim, sim.accounts[0]!.secretKey).customers.list({ limit: 1 })).resolves.toMatchObject({ object: 'list' });
  });

  it('down: connections are cut until cleared; other accounts can stay up', async () => {
    const platform = sim.accounts[0]!;
    sim.setOutage({ mode: 'down', accountId: platform.id });
    const stripe = client(sim, platform.secretKey);
    const err: unknown = await stripe.customers.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    // The connected account is not affected by an outage scoped to the platform.
    await expect(stripe.customers.list({ limit: 1 }, { stripeAccount: sim.accounts[1]!.id })).resolves.toMatchObject({ object: 'list' });
    sim.clearOutage();
    await expect(stripe.customers.list({ limit: 1 })).resolves.toMatchObject({ object: 'list' });
  });

  it('refuse: the port closes, connections are refused, then it opens again on the same port', async () => {
    const stripe = client(sim, sim.accounts[0]!.secretKey);
    await sim.refuseConnections();
    const err: unknown = await stripe.customers.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    const raw: unknown = await fetch(`${sim.url}/_sim/info`).catch((e: unknown) => e);
    expect((raw as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    await sim.acceptConnections();
    await expect(stripe.customers.list({ limit: 1 })).resolves.toMatchObject({ object: 'list' });
  });

  it('refuse over the control API needs a duration and reopens by itself', async () => {
    const post = (body: unknown) => fetch(`${sim.url}/_sim/outage`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post({ mode: 'refuse' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('durationMs');
    const started = Date.now();
    expect((await post({ mode: 'refuse', durationMs: 1500 })).status).toBe(200);
    const probe = async (): Promise<string> => {
      const r: unknown = await fetch(`${sim.url}/_sim/info`).catch((e: unknown) => e);
      return r instanceof Response ? String(r.status) : ((r as { cause?: { code?: string } }).cause?.code ?? 'error');
    };
    const until = async (want: string, ms: number): Promise<string> => {
      const deadline = Date.now() + ms;
      let got = await probe();
      while (got !== want && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        got = await probe();
      }
      return got;
    };
    expect(await until('ECONNREFUSED', 1000)).toBe('ECONNREFUSED');
    expect(await until('200', 10_000)).toBe('200');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });

  it('the control API drives outages and reports stats over HTTP', async () => {
    const post = (path: string, body: unknown) => fetch(sim.url + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/_sim/outage', { mode: 'error' })).status).toBe(200);
    const res = await fetch(`${sim.url}/v1/customers`, { headers: { Authorization: `Bearer ${sim.accounts[0]!.secretKey}` } });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { type: 'api_error', message: 'An unknown error occurred' } });
    expect((await fetch(`${sim.url}/_sim/outage`, { method: 'DELETE' })).status).toBe(200);
    const bad = await post('/_sim/outage', { mode: 'sideways' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('mode');
    const stats = (await (await fetch(`${sim.url}/_sim/stats`)).json()) as { requests: number; outageRefusals: number };
    expect(stats.outageRefusals).toBeGreaterThan(0);
  });
});
