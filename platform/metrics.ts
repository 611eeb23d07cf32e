import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one process, served at /metrics. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    webhooksReceived: new Counter({
      name: 'wysera_webhooks_received_total',
      help: 'Stripe webhook requests by outcome (stored, duplicate, rejected reason)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    webhookAckSeconds: new Histogram({
      name: 'wysera_webhook_ack_seconds',
      help: 'Time from request to acknowledgement of Stripe webhooks',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
