import { spawn } from 'node:child_process';
import type Stripe from 'stripe';
import { endpointOf, StripeClients } from '../../activities/stripe-client';
import { freePort } from './ports';
import { toolPaths } from './tools';

/**
 * stripe-mock on a free loopback port, with a workspace's Stripe client pointed at
 * it (through the same paced client the product uses), ready once it answers.
 */
export async function startStripeMock(): Promise<{ stripe: Stripe; clients: StripeClients; stop(): void }> {
  const port = await freePort();
  const mock = spawn(toolPaths().stripeMock, ['-http-port', String(port)], { stdio: 'ignore' });
  const clients = new StripeClients({ endpoint: endpointOf(`http://127.0.0.1:${port}`), retry: { maxRetries: 0 } });
  const stripe = clients.forWorkspace({ workspaceId: 'ws_contract', apiKey: 'sk_test_contract123', livemode: false, rateLimitRps: 200 });
  for (let i = 0; ; i++) {
    try {
      await stripe.customers.list({ limit: 1 });
      break;
    } catch (err) {
      if (i > 100) {
        mock.kill('SIGTERM');
        throw err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { stripe, clients, stop: () => mock.kill('SIGTERM') };
}
