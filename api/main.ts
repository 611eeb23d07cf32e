import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createApi } from './app';
import { listen } from './listen';
import type { PasswordResetDeps } from './password-reset';
import { emailFromEnv } from '../email/from-env';
import { createDb } from '../db/knex';
import { ConfigError, loadConfig } from '../platform/config';
import { createLogger } from '../platform/logger';
import { createMetrics, observePoolWaits } from '../platform/metrics';
import { createTemporalClient } from '../platform/temporal';

/**
 * How password reset emails go out: the server's email provider (the worker's, from
 * the same environment) from EMAIL_DEFAULT_FROM, with links to WYSERA_PUBLIC_URL.
 * Without all three, resets are off and the log says what is missing.
 */
function resetMail(publicUrl: string | undefined, log: Logger): PasswordResetDeps['mail'] {
  let email: ReturnType<typeof emailFromEnv>;
  try {
    email = emailFromEnv();
  } catch (err) {
    // The worker refuses to start on this; the API serves on, without resets.
    log.error({ err: (err as Error).message }, 'password reset by email is off: the email configuration is invalid');
    return undefined;
  }
  const { sender, defaultFrom } = email;
  if (publicUrl && defaultFrom && sender.provider !== 'none') return { sender, from: defaultFrom, publicUrl };
  const missing = [publicUrl ? null : 'WYSERA_PUBLIC_URL', sender.provider === 'none' ? 'an email provider' : null, defaultFrom ? null : 'EMAIL_DEFAULT_FROM'].filter((m) => m !== null);
  log.info({ missing }, 'password reset by email is off');
  return undefined;
}

/** The API process: webhook ingress, health, metrics (and later the REST API and UI). */
function main(): void {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, 'wysera-api');
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  const { connection } = createTemporalClient(config);
  const metrics = createMetrics();
  observePoolWaits(metrics, db, 'api');
  const api = createApi({
    db,
    temporal: connection,
    keyring: config.WYSERA_ENCRYPTION_KEYS,
    log,
    metrics,
    webhookMaxBytes: config.WEBHOOK_MAX_BYTES,
    webhookRequestsPerMinute: config.WEBHOOK_RATE_PER_MINUTE,
    authFailuresPerWindow: config.AUTH_FAILURES_PER_WINDOW,
    loginFailuresPerEmail: config.LOGIN_FAILURES_PER_EMAIL,
    loginFailuresPerAddress: config.LOGIN_FAILURES_PER_ADDRESS,
    operatorToken: config.WYSERA_OPERATOR_TOKEN,
    temporalNamespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    passwordResetMail: resetMail(config.WYSERA_PUBLIC_URL, log),
    passwordResetsPerAddress: config.PASSWORD_RESETS_PER_ADDRESS,
    signalsRequestsPerMinute: config.SIGNALS_REQUESTS_PER_MINUTE,
    signalsRetentionDays: config.PRODUCT_SIGNALS_RETENTION_DAYS,
  });

  const server = listen(api.serve, config.PORT, config.HOST, () => {
    const { port } = server.address() as AddressInfo;
    log.info({ url: `http://${config.HOST}:${port}` }, 'api listening');
  });
  server.once('error', (err) => {
    log.error({ err, host: config.HOST, port: config.PORT }, 'api cannot listen');
    process.exit(1);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'api stopping');
    server.close(() => {
      void Promise.allSettled([db.destroy(), connection.close()]).then(() => process.exit(0));
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

try {
  main();
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
