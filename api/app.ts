import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import type { Connection } from '@temporalio/client';
import type { Knex } from '../db/knex';
import type { Keyring } from '../platform/crypto';
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import { accessRouter } from './access';
import { authenticate } from './auth';
import { errorHandler, notFound } from './errors';
import { healthRouter } from './health';
import { webRouter } from './web';
import { authFailureLimit, jsonBodiesOnly, securityHeaderList, securityHeaders } from './hardening';
import { customersRouter } from './customers';
import { signalsRouter } from './signals';
import { churnRiskRouter } from './churn-risk';
import { expansionRouter } from './expansion';
import { renewalsRouter } from './renewals';
import { metricsRouter } from './metrics';
import { webhookIngress, webhookRouter, type EtagOf } from './webhooks';
import { webhookFrontDoor } from './webhook-front-door';
import { stripeConnectionRouter } from './stripe-connection';
import { workspacesRouter } from './workspaces';
import { StripeClients, stripeEndpointFromEnv } from '../activities/stripe-client';
import { createStripeReader, workspaceStripeClients } from '../activities/stripe-reader';
import { draftsRouter } from './drafts';
import { playsRouter } from './dunning';
import { redactionRouter, redactResponses } from './redaction';
import { membersRouter } from './members';
import { webhookEventsRouter } from './webhook-events';
import { passwordResetRouter, type PasswordResetDeps } from './password-reset';
import { loginRouter, sessionRouter } from './sessions';

export interface AppDeps {
  db: Knex;
  temporal: Connection;
  keyring: Keyring;
  log: Logger;
  metrics: Metrics;
  webhookMaxBytes: number;
  /** Bearer token for operator-only routes; those routes answer 403 without it. */
  operatorToken?: string | undefined;
  /** Stripe clients with each workspace's rate limiter (default: api.stripe.com or STRIPE_API_BASE). */
  stripe?: StripeClients;
  temporalNamespace?: string;
  /** Task queue the sync workflows are started on. */
  taskQueue?: string;
  /** Webhook deliveries accepted per workspace per minute (default 60,000; 0: no limit). */
  webhookRequestsPerMinute?: number;
  /** Failed authentications (401s) per client address per 15 minutes before 429s (default 100; 0: no limit). */
  authFailuresPerWindow?: number;
  /** Failed logins per email / per client address per 15 minutes before 429s (defaults 10 / 100; 0: no limit). */
  loginFailuresPerEmail?: number;
  loginFailuresPerAddress?: number;
  /** How password reset emails go out (api/password-reset.ts); undefined: resets answer 503. */
  passwordResetMail?: PasswordResetDeps['mail'];
  /** Password reset requests per client address per 15 minutes (default 20; 0: no limit). */
  passwordResetsPerAddress?: number;
  /** Product signal requests per caller (API token or user) per minute (default 600; 0: no limit). */
  signalsRequestsPerMinute?: number;
  /** The window that limit counts in (default a minute; the CLI's tests shorten it to see a wait end). */
  signalsRateWindowMs?: number;
  /** How long the worker keeps product signals (PRODUCT_SIGNALS_RETENTION_DAYS; 0 keeps all): the answer counts those it stored past it. */
  signalsRetentionDays?: number;
}

/** The HTTP API as the server runs it. */
export interface Api {
  /** Every route, Stripe's webhook deliveries included (the route table the security tests read). */
  app: Express;
  /** What the HTTP server runs: webhook deliveries through their front door, everything else through the app. */
  serve: RequestListener;
}

/** The HTTP API: built from its dependencies so tests run it against real services. */
export function createApi(deps: AppDeps): Api {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  const headers = securityHeaderList();
  app.use(securityHeaders(headers));

  // Webhooks are authenticated by their Stripe signature alone. They come first: they
  // are most of the traffic, and no route below answers under /webhooks/stripe.
  const etagOf = app.get('etag fn') as EtagOf | undefined;
  const ingress = webhookIngress({
    db: deps.db,
    keyring: deps.keyring,
    metrics: deps.metrics,
    maxBytes: deps.webhookMaxBytes,
    requestsPerMinute: deps.webhookRequestsPerMinute ?? 60_000,
    etagOf,
  });
  app.use(webhookRouter(ingress));
  const frontDoor = webhookFrontDoor({ ingress, securityHeaders: headers, log: deps.log, etagOf });

  app.use(healthRouter({ db: deps.db, temporal: deps.temporal }));
  app.use(webRouter({ log: deps.log }));
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  const stripeClients = deps.stripe ?? new StripeClients({ endpoint: stripeEndpointFromEnv() });
  app.use(express.json({ limit: '256kb' }));
  app.use(jsonBodiesOnly());
  const authFailures = deps.authFailuresPerWindow ?? 100;
  if (authFailures > 0) app.use(authFailureLimit(authFailures));
  const sessions = { db: deps.db, keyring: deps.keyring, loginFailuresPerEmail: deps.loginFailuresPerEmail, loginFailuresPerAddress: deps.loginFailuresPerAddress };
  app.use(loginRouter(sessions));
  app.use(passwordResetRouter({ db: deps.db, keyring: deps.keyring, log: deps.log, mail: deps.passwordResetMail, requestsPerAddress: deps.passwordResetsPerAddress }));
  app.use(authenticate({ db: deps.db, operatorToken: deps.operatorToken }));
  app.use(redactResponses({ db: deps.db }));
  app.use(sessionRouter(sessions));
  app.use(accessRouter({ db: deps.db, keyring: deps.keyring }));
  app.use(webhookEventsRouter({ db: deps.db, keyring: deps.keyring }));
  app.use(membersRouter({ db: deps.db, keyring: deps.keyring }));
  app.use(redactionRouter({ db: deps.db }));
  app.use(metricsRouter({ db: deps.db, keyring: deps.keyring }));
  app.use(customersRouter({ db: deps.db, keyring: deps.keyring, log: deps.log }));
  app.use(
    signalsRouter({
      db: deps.db,
      requestsPerMinute: deps.signalsRequestsPerMinute ?? 600,
      retentionDays: deps.signalsRetentionDays ?? 400,
      ...(deps.signalsRateWindowMs ? { windowMs: deps.signalsRateWindowMs } : {}),
    }),
  );

  const namespace = deps.temporalNamespace ?? 'default';
  const workspaceDeps = { db: deps.db, keyring: deps.keyring, stripe: stripeClients, temporal: deps.temporal, namespace, taskQueue: deps.taskQueue ?? 'wysera' };
  app.use(workspacesRouter(workspaceDeps));
  app.use(stripeConnectionRouter(workspaceDeps));
  app.use(draftsRouter({ db: deps.db, temporal: deps.temporal, namespace, log: deps.log }));
  app.use(churnRiskRouter({ db: deps.db, keyring: deps.keyring, temporal: deps.temporal, namespace, taskQueue: workspaceDeps.taskQueue, log: deps.log }));
  app.use(expansionRouter({ db: deps.db, keyring: deps.keyring, temporal: deps.temporal, namespace, taskQueue: workspaceDeps.taskQueue, log: deps.log }));
  app.use(renewalsRouter({ db: deps.db, keyring: deps.keyring, temporal: deps.temporal, namespace, taskQueue: workspaceDeps.taskQueue, log: deps.log }));
  app.use(playsRouter({ db: deps.db, keyring: deps.keyring, temporal: deps.temporal, namespace, log: deps.log, stripe: createStripeReader(workspaceStripeClients(deps.db, deps.keyring, stripeClients)) }));

  app.use(notFound);
  app.use(errorHandler(deps.log));
  return {
    app,
    serve: (req, res) => {
      if (!frontDoor(req, res)) app(req, res);
    },
  };
}
