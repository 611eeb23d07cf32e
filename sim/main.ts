/**
 * Runs the Stripe simulator as a process:
 *   tsx sim/main.ts --seed 1 --customers 300 --months 24 --port 12112 [--now <unix seconds>] [--live]
 * Prints one JSON line with the URL, account ids and keys, then serves until killed.
 * With --live, simulated time moves on by --tick-seconds every --tick-ms, so new
 * signups, renewals, failed payments and cancellations keep arriving (as webhooks
 * when an endpoint is registered with --webhook-url/--webhook-secret or POST /_sim/webhooks).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startSimulator } from './server';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    customers: { type: 'string', default: '300' },
    months: { type: 'string', default: '24' },
    now: { type: 'string' },
    port: { type: 'string', default: '12112' },
    host: { type: 'string', default: '127.0.0.1' },
    'rate-limit': { type: 'string', default: '25' },
    connected: { type: 'string', default: '0' },
    live: { type: 'boolean', default: false },
    'tick-ms': { type: 'string', default: '5000' },
    'tick-seconds': { type: 'string', default: '21600' },
    'webhook-url': { type: 'string' },
    'webhook-secret': { type: 'string' },
  },
  strict: true,
});

const int = (name: string, min: number) => z.coerce.number().int().min(min, `--${name} must be an integer >= ${min}`);
const args = z
  .object({
    seed: z.string().min(1),
    customers: int('customers', 0),
    months: int('months', 1),
    now: int('now', 0).optional(),
    port: int('port', 0).max(65_535),
    host: z.string().min(1),
    'rate-limit': z.coerce.number().min(0),
    connected: int('connected', 0).max(20),
    live: z.boolean(),
    'tick-ms': int('tick-ms', 100),
    'tick-seconds': int('tick-seconds', 1),
    'webhook-url': z.url().optional(),
    'webhook-secret': z.string().min(1).optional(),
  })
  .refine((a) => !a['webhook-url'] === !a['webhook-secret'], { message: '--webhook-url and --webhook-secret go together' })
  .safeParse(values);
if (!args.success) {
  for (const issue of args.error.issues) process.stderr.write(`sim: ${issue.path.join('.') || 'arguments'}: ${issue.message}\n`);
  process.exit(2);
}
const a = args.data;
const seed = /^\d+$/.test(a.seed) ? Number(a.seed) : a.seed;

async function main(): Promise<void> {
  const sim = await startSimulator({
    seed,
    customers: a.customers,
    months: a.months,
    ...(a.now !== undefined ? { now: a.now } : {}),
    port: a.port,
    host: a.host,
    rateLimit: a['rate-limit'],
    connected: Array.from({ length: a.connected }, () => ({})),
  });
  if (a['webhook-url'] && a['webhook-secret']) sim.addWebhookEndpoint(a['webhook-url'], a['webhook-secret']);
  const platform = sim.accounts[0];
  process.stdout.write(
    `${JSON.stringify({ url: sim.url, port: sim.port, accountId: platform?.id, secretKey: platform?.secretKey, restrictedKey: platform?.restrictedKey, accounts: sim.accounts, live: a.live })}\n`,
  );
  let timer: NodeJS.Timeout | null = null;
  if (a.live) timer = setInterval(() => sim.advance(a['tick-seconds']), a['tick-ms']);
  const shutdown = (): void => {
    if (timer) clearInterval(timer);
    void sim.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`sim: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
