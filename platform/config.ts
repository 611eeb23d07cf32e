import { z } from 'zod';
import { parseKeyring } from './crypto';

/**
 * Process configuration, read once from the environment and validated at start-up.
 * A bad or missing variable stops the process with a message naming each one.
 */
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const envSchema = z.object({
  DATABASE_URL: z
    .string({ error: 'is required (e.g. postgres://wysera:wysera@127.0.0.1:5432/wysera)' })
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port').default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('wysera'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: logLevel.default('info'),
  /**
   * Keys that encrypt secrets at rest: `id:base64(32 bytes)[,id:...]`; the first one
   * encrypts, all of them decrypt (so keys can rotate).
   */
  WYSERA_ENCRYPTION_KEYS: z
    .string({ error: 'is required: id:base64key, e.g. k1:$(openssl rand -base64 32)' })
    .transform((spec, ctx) => {
      try {
        return parseKeyring(spec);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  /**
   * Bearer token for operator-only routes (creating workspaces). Without it those
   * routes answer 403.
   */
  WYSERA_OPERATOR_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Largest webhook body accepted; Stripe events are far smaller. */
  WEBHOOK_MAX_BYTES: z.coerce.number().int().min(1024).default(512 * 1024),
  /** Webhook deliveries accepted per workspace per minute (0: no limit); docs/security.md. */
  WEBHOOK_RATE_PER_MINUTE: z.coerce.number().int().min(0).default(60_000),
  /** Failed authentications (401s) per client address per 15 minutes before 429s (0: no limit). */
  AUTH_FAILURES_PER_WINDOW: z.coerce.number().int().min(0).default(100),
  /** Failed logins per email / per client address per 15 minutes before 429s (0: no limit); docs/security.md. */
  LOGIN_FAILURES_PER_EMAIL: z.coerce.number().int().min(0).default(10),
  LOGIN_FAILURES_PER_ADDRESS: z.coerce.number().int().min(0).default(100),
  /**
   * Where people reach the web UI (https://wysera.example.com): the base of the links in
   * password reset emails. Unset, resets by email are off (503): a link built from a
   * request's Host header could be pointed at another site.
   */
  WYSERA_PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    // A reset link's token must not cross a network in clear text: http only on this machine.
    .refine((u) => u.startsWith('https://') || /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(u), 'must be https:// (http:// only for localhost)')
    .optional(),
  /** Password reset requests per client address per 15 minutes before 429s (0: no limit). */
  PASSWORD_RESETS_PER_ADDRESS: z.coerce.number().int().min(0).default(20),
  /** Product signal requests per caller (API token or user) per minute before 429s (0: no limit). */
  SIGNALS_REQUESTS_PER_MINUTE: z.coerce.number().int().min(0).default(600),
  /** Port of the worker's Prometheus endpoint (GET /metrics on HOST); 0 picks a free port. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /**
   * Port of the Temporal SDK's own Prometheus endpoint in the worker (its task latencies,
   * pollers, sticky cache hits and misses), on HOST; unset: none.
   */
  TEMPORAL_SDK_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /**
   * Workflows the worker keeps in memory between their tasks (the SDK's sticky cache);
   * unset: the SDK's default from the heap size (about 2,300 with Node's default heap).
   * A task of a workflow not in the cache replays its whole history first, so with more
   * customers active than this, every event costs a replay.
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce
    .number()
    .int()
    .min(0)
    .refine((n) => n !== 1, 'must be 0 (no cache) or at least 2')
    .optional(),
  /**
   * Days the inbox keeps events the relay is done with; older ones are deleted hourly.
   * An event id is recognised as a duplicate only while it is kept, so at least 30
   * (Stripe resends an event for up to 30 days); 0 keeps every event.
   */
  INBOX_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .refine((n) => n === 0 || (n >= 30 && n <= 3650), 'must be 0 (keep every event) or 30 to 3650 days')
    .default(35),
  /**
   * Days the product's signals (usage, logins, tickets) are kept after they happened;
   * older ones are deleted hourly, but for each customer's newest of each kind. The
   * plays read the last 60 days; the churn risk's backtest reads back its `days` plus
   * 60, so with 400 a backtest of more than 340 days scores its oldest checks without
   * signals. 0 keeps every signal.
   */
  PRODUCT_SIGNALS_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .refine((n) => n === 0 || (n >= 90 && n <= 3650), 'must be 0 (keep every signal) or 90 to 3650 days')
    .default(400),
  /**
   * How often the worker's churn radar scores every customer and starts a save for
   * those at or above their workspace's threshold (workers/play-scans.ts). 0 turns the
   * radar off in this worker (run it in one or several; a save starts once).
   */
  CHURN_RADAR_INTERVAL_MINUTES: z.coerce
    .number()
    .int()
    .refine((n) => n === 0 || (n >= 5 && n <= 1440), 'must be 0 (no radar in this worker) or 5 to 1440 minutes')
    .default(60),
  /**
   * How often the worker's expansion play looks for customers near a usage limit or
   * who added seats and starts a pitch for them (activities/expansion.ts). 0 turns the
   * scan off in this worker.
   */
  EXPANSION_SCAN_INTERVAL_MINUTES: z.coerce
    .number()
    .int()
    .refine((n) => n === 0 || (n >= 5 && n <= 1440), 'must be 0 (no expansion scan in this worker) or 5 to 1440 minutes')
    .default(60),
  /**
   * How often the worker's renewal play looks for long-term subscriptions renewing
   * soon and starts a note for them (activities/renewal.ts). 0 turns the scan off in
   * this worker.
   */
  RENEWAL_SCAN_INTERVAL_MINUTES: z.coerce
    .number()
    .int()
    .refine((n) => n === 0 || (n >= 5 && n <= 1440), 'must be 0 (no renewal scan in this worker) or 5 to 1440 minutes')
    .default(60),
  /**
   * How many nice values below its relay thread the worker runs everything else: the
   * Temporal SDK's threads, which run the plays (Linux; 0 keeps one priority). The relay
   * keeps the mirror and the analytics a second behind Stripe and costs little; the
   * plays are bulk work that can wait, so on a shared host they take what is left.
   */
  WORKER_PLAYS_NICE: z.coerce.number().int().min(0).max(19).default(10),
  /** How long the relay waits between inbox polls when no notification arrives. */
  RELAY_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(500),
  /**
   * Events the relay takes from the head of the inbox per pass (their customers' later
   * events come along): smaller passes finish sooner, larger ones share more work.
   */
  RELAY_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(250),
  /** Under load, the least time between the starts of two relay passes (workers/relay.ts gatherMs). */
  RELAY_GATHER_MS: z.coerce.number().int().min(0).max(10_000).default(200),
});

export type Config = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * WORKER_PLAYS_NICE as a worker started with `env` reads it (its default when unset or
 * empty), for tools that start a worker and must say what priority its plays got.
 */
export function workerPlaysNice(env: NodeJS.ProcessEnv = process.env): number {
  return envSchema.shape.WORKER_PLAYS_NICE.parse(setOnly(env).WORKER_PLAYS_NICE);
}

/** The variables that are set: empty strings count as unset, as they do in most shells' `VAR= cmd`. */
function setOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
}

/** Parses the environment; throws ConfigError listing every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(setOnly(env));
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`));
}
