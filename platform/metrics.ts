import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InboxBacklog } from '../db/inbox';
import { poolEvents, type Knex } from '../db/knex';

/**
 * Prometheus metrics of one process, served at /metrics. A worker thread whose metrics
 * are added to its process's (the relay's) passes `processMetrics: false`: Node's
 * process figures (CPU, memory, event loop) come from the main thread once.
 */
export function createMetrics({ processMetrics = true }: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
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
    webhookEventsWaiting: new Gauge({
      name: 'wysera_webhook_events_waiting',
      help: 'Verified Stripe events waiting for their inbox insert to start (they go together in the next one; many: Postgres is slow to take them)',
      registers: [registry],
    }),
    relayEvents: new Counter({
      name: 'wysera_relay_events_total',
      help: 'Inbox events handled by the relay, by Stripe event type and outcome (processed, ignored, deferred, foreign: not the workspace\'s account or mode, set aside)',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    inboxPruned: new Counter({
      name: 'wysera_inbox_pruned_total',
      help: 'Inbox events deleted after the retention period (INBOX_RETENTION_DAYS)',
      registers: [registry],
    }),
    productSignalsPruned: new Counter({
      name: 'wysera_product_signals_pruned_total',
      help: 'Product signals deleted after the retention period (PRODUCT_SIGNALS_RETENTION_DAYS)',
      registers: [registry],
    }),
    churnSavesOpened: new Counter({
      name: 'wysera_churn_saves_opened_total',
      help: "Saves the churn radar opened: customers whose risk reached their workspace's threshold, with none open, none within the cooldown and not in dunning",
      registers: [registry],
    }),
    churnRadarScans: new Counter({
      name: 'wysera_churn_radar_scans_total',
      help: "The worker's churn radar scans, by outcome (done, failed)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    expansionPitchesOpened: new Counter({
      name: 'wysera_expansion_pitches_opened_total',
      help: 'Upgrade pitches the expansion play opened: customers near a usage limit or who added seats, with a plan up to pitch, not at churn risk, in dunning or cooling down',
      registers: [registry],
    }),
    expansionScans: new Counter({
      name: 'wysera_expansion_scans_total',
      help: "The worker's expansion play scans, by outcome (done, failed)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    renewalNotesOpened: new Counter({
      name: 'wysera_renewal_notes_opened_total',
      help: 'Renewal notes the renewal play opened: long-term subscriptions renewing within the workspace\'s daysBefore, once per renewal',
      registers: [registry],
    }),
    renewalScans: new Counter({
      name: 'wysera_renewal_scans_total',
      help: "The worker's renewal play scans, by outcome (done, failed)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    relayRefetches: new Counter({
      name: 'wysera_relay_refetches_total',
      help: 'Events whose object the relay read again from Stripe instead of trusting the event (same-second tie or truncated list), by Stripe event type',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    syncRereads: new Counter({
      name: 'wysera_sync_rereads_total',
      help: "Objects a sync's page could not order against the mirror's state of them (their times overlap and they differ), queued to be read again from Stripe (wysera.reread), by the resource synced",
      labelNames: ['resource'] as const,
      registers: [registry],
    }),
    relayLagSeconds: new Histogram({
      name: 'wysera_relay_lag_seconds',
      help: 'Time from an event entering the inbox to its delivery to workflows',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    relayStepSeconds: new Histogram({
      name: 'wysera_relay_step_seconds',
      help: "Time the relay spends in each step of its work: read (a pass's inbox read that found events), empty_read (one that found none it could take), mirror (the events' writes to the mirror), analytics (a recompute of the customers' analytics), signal (one customer's signal to its plays, not counting its wait for a lane)",
      labelNames: ['step'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    relayWalkedEvents: new Counter({
      name: 'wysera_relay_walked_events_total',
      help: "Pending inbox events the relay's reads looked at to choose their passes (a walk that finds mostly customers held back by retries or busy makes the relay read less often)",
      registers: [registry],
    }),
    relayPassEvents: new Histogram({
      name: 'wysera_relay_pass_events',
      help: 'Inbox events one relay pass takes on (passes grow when the relay falls behind)',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers: [registry],
    }),
    dbPoolWaitSeconds: new Histogram({
      name: 'wysera_db_pool_wait_seconds',
      help: "Time a query waited for a pooled Postgres connection (DATABASE_POOL_MAX), by pool: the API's (api), the worker's activities' (activities) and its relay thread's (relay). A full pool shows here first",
      labelNames: ['pool'] as const,
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
  };
}

/**
 * Gauges read from the inbox at scrape time: how many events wait, how long the
 * oldest has waited, and how many of them have failed, by workspace. A growing age
 * means the relay is stuck or Temporal is down; failing events that stay are ones that
 * cannot go (each holds back its customer's later events until it goes or one of that
 * workspace's owners gives up on it, so the workspace is what an alert should name).
 */
export function registerInboxGauges(metrics: Metrics, read: () => Promise<InboxBacklog>): void {
  let last: Promise<InboxBacklog> | undefined;
  // The gauges are collected in one scrape: share one query.
  const sample = () => (last ??= read().finally(() => setTimeout(() => (last = undefined), 100)));
  const gauge = (name: string, help: string, pick: (s: InboxBacklog) => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      async collect() {
        this.set(pick(await sample()));
      },
    });
  gauge('wysera_inbox_pending', 'Inbox events not yet delivered', (s) => s.pending);
  gauge('wysera_inbox_oldest_pending_seconds', 'How long the oldest undelivered inbox event has waited: since it arrived, or since an owner queued it again (0 when none)', (s) => s.oldestPendingSeconds);
  new Gauge({
    name: 'wysera_inbox_failing',
    help: "Undelivered inbox events whose delivery failed at least once, by workspace (a series only for workspaces that have any); each holds back its customer (GET /workspaces/:workspaceId/webhook-events/failing)",
    labelNames: ['workspace'],
    registers: [metrics.registry],
    async collect() {
      const { failingByWorkspace } = await sample();
      // A workspace whose failing events have all gone drops out rather than staying at its last count.
      this.reset();
      for (const [workspace, failing] of failingByWorkspace) this.set({ workspace }, failing);
    },
  });
}

/** Which of the processes' pools a wait was for (the worker's two threads each have one). */
export type DbPoolName = 'api' | 'activities' | 'relay';

/**
 * Times every wait for a connection of db's pool into `dbPoolWaitSeconds`, from the
 * pool's request to its hand-over (or failure). A query's own time says nothing of
 * how long it queued for a connection first; under load that queue can be most of it.
 */
export function observePoolWaits(metrics: Pick<Metrics, 'dbPoolWaitSeconds'>, db: Knex, name: DbPoolName): void {
  const pool = poolEvents(db);
  if (!pool) return;
  const started = new Map<number, () => void>();
  pool.on('acquireRequest', (eventId: number) => started.set(eventId, metrics.dbPoolWaitSeconds.startTimer({ pool: name })));
  const done = (eventId: number) => {
    started.get(eventId)?.();
    started.delete(eventId);
  };
  pool.on('acquireSuccess', done);
  pool.on('acquireFail', done);
}

export type Metrics = ReturnType<typeof createMetrics>;
