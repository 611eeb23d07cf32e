import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOf, RateLimiter, StripeBacklogError, StripeClients, type WorkspaceStripeAccess } from '../../activities/stripe-client';
import { createStripeReader, StripeUnavailableError } from '../../activities/stripe-reader';
import { startSimulator, type Simulator } from '../../sim/server';

/**
 * The plays' Stripe reads wait only so long for the workspace's rate limit: a burst
 * beyond it is turned away at once (their workflows wait on a timer instead), without
 * taking the tokens the calls already queued need.
 */
describe('a bounded wait for the Stripe rate limit', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 'stripe-backlog', customers: 5, months: 2, port: 0 });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('refuses a call that would wait too long without booking its token', async () => {
    // A still clock: every wait below is what the bucket has booked, nothing refills.
    const limiter = new RateLimiter(10, () => 0);
    await limiter.acquire(50);
    const refused = await limiter.acquire(50).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(StripeBacklogError);
    expect((refused as StripeBacklogError).waitMs).toBe(100);
    // Had the refused call booked a token, this one would wait 200 ms.
    const again = await limiter.acquire(50).catch((err: unknown) => err);
    expect((again as StripeBacklogError).waitMs).toBe(100);
  });

  it('turns a read beyond the bound into StripeUnavailableError saying why, while unbounded calls on the same limit still queue', async () => {
    const clients = new StripeClients({ endpoint: endpointOf(sim.url), retry: { maxRetries: 0 } });
    const access: WorkspaceStripeAccess = { workspaceId: 'ws_backlog', apiKey: sim.accounts[0]!.restrictedKey, livemode: false, rateLimitRps: 2 };
    const invoiceId = sim.account().invoices.rows[0]!.id;
    // 2 calls a second, one at a time: the second call's slot is 500 ms away.
    const plays = createStripeReader(() => Promise.resolve(clients.forWorkspace(access, 300)));
    const sync = createStripeReader(() => Promise.resolve(clients.forWorkspace(access)));
    const results = await Promise.allSettled([plays.invoice('ws_backlog', invoiceId), plays.invoice('ws_backlog', invoiceId), sync.invoice('ws_backlog', invoiceId)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refusal = (results[1] as PromiseRejectedResult).reason as Error;
    expect(refusal).toBeInstanceOf(StripeUnavailableError);
    expect(refusal.message).toMatch(new RegExp(`^Stripe busy reading invoice ${invoiceId}: the workspace's Stripe rate limit is booked 0.5 s ahead, longer than this call may wait \\(0.3 s\\)$`));
    // The refused call never reached Stripe.
    expect(clients.statsOf('ws_backlog').requests).toBe(2);
  });
});
