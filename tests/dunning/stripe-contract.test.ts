import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOf, StripeClients } from '../../activities/stripe-client';
import { createStripeReader, StripeUnavailableError, type StripeReader } from '../../activities/stripe-reader';
import { startStripeMock } from '../setup/stripe-mock';

/**
 * Every Stripe request the plays make (reads before drafting and sending, the
 * billing-portal session, the out-of-band payment), sent to stripe-mock, which
 * rejects any request its OpenAPI spec does not allow. stripe-mock is stateless: its
 * answers are Stripe's example objects, so only the requests are checked here; the
 * behaviour is tested against the simulator.
 */
let reader: StripeReader;


let mock: Awaited<ReturnType<typeof startStripeMock>>;

beforeAll(async () => {
  mock = await startStripeMock();
  reader = createStripeReader(() => Promise.resolve(mock.stripe));
}, 30_000);

afterAll(() => {
  mock?.stop();
});

describe("the plays' Stripe requests are valid", () => {
  it('reads an invoice', async () => {
    const invoice = await reader.invoice('ws_contract', 'in_contract123');
    expect(invoice).toMatchObject({ currency: expect.any(String) as unknown, amountDue: expect.any(Number) as unknown });
  });

  it('reads a customer', async () => {
    expect((await reader.customer('ws_contract', 'cus_contract123'))?.id).toEqual(expect.any(String));
  });

  it('reads a subscription with its prices and products expanded', async () => {
    const plan = await reader.subscriptionPlan('ws_contract', 'sub_contract123');
    // Stripe's example item: 1 unit of a $20 price sold in packages of 1,592,560,163 rounded down, which bills nothing.
    expect(plan?.monthlyValue).toEqual({ amount: 0, currency: 'usd' });
  });

  it('creates a billing-portal session', async () => {
    expect(await reader.billingPortalUrl('ws_contract', 'cus_contract123')).toMatch(/^https?:\/\//);
  });

  it('pays an invoice out of band', async () => {
    expect((await reader.payOutOfBand('ws_contract', 'in_contract123')).id).toEqual(expect.any(String));
  });

  it('reports an unreachable Stripe as unavailable, never as an answer', async () => {
    const clients = new StripeClients({ endpoint: endpointOf('http://127.0.0.1:9'), retry: { maxRetries: 0 } });
    const gone = createStripeReader(() => Promise.resolve(clients.forWorkspace({ workspaceId: 'ws_gone', apiKey: 'sk_test_gone123', livemode: false })));
    await expect(gone.invoice('ws_gone', 'in_1')).rejects.toBeInstanceOf(StripeUnavailableError);
  });
});
