import express, { type Express } from 'express';
import type { Connection } from '@temporalio/client';
import type { Knex } from '../db/knex';
import type { Keyring } from '../platform/crypto';
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import { errorHandler, notFound } from './errors';
import { healthRouter } from './health';
import { webhookRouter } from './webhooks';

export interface AppDeps {
  db: Knex;
  temporal: Connection;
  keyring: Keyring;
  log: Logger;
  metrics: Metrics;
  webhookMaxBytes: number;
}

/** The HTTP API: built from its dependencies so tests run it against real services. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.use(healthRouter({ db: deps.db, temporal: deps.temporal }));
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.use(webhookRouter({ db: deps.db, keyring: deps.keyring, metrics: deps.metrics, maxBytes: deps.webhookMaxBytes }));

  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
