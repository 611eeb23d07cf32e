import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  patched,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { PlayHubActivities } from '../activities/play-hub';
import { playInterest } from '../domain/play-routing';
import { dunningWorkflow } from './dunning';
import { dunningWorkflowId } from './ids';
import { recentEventsQuery, stripeEventSignal, stripeEventsSignal, type StripeEventSignal } from './messages';
import { dunningEventSignal, type DunningEvent } from './play-messages';
import { CUSTOMER_ID, PLAY, WORKSPACE_ID } from './search-attributes';

/** How many recent events the workflow keeps (they answer the recent-events query). */
export const RECENT_EVENTS_KEPT = 50;
/**
 * How many event ids are remembered for de-duplication. The relay may re-deliver an
 * event only shortly after the first delivery (it crashed before recording it), so a
 * bounded window is enough.
 */
export const SEEN_IDS_KEPT = 500;
/** How many invoices in dunning the workflow remembers, to forward their events. */
export const DUNNING_INVOICES_KEPT = 50;

/**
 * Guards the routing of events to the plays: histories recorded before it (events
 * only recorded) replay unchanged.
 */
export const PLAYS_ROUTING_PATCH = 'customer-routes-events-to-plays';
/**
 * Guards skipping the forward to a dunning workflow this run saw end: histories
 * recorded before it signalled the ended workflow (and recorded the failure).
 */
export const SKIP_ENDED_DUNNING_PATCH = 'customer-skips-ended-dunning';
/**
 * Guards starting and signalling the plays through local activities (activities/
 * play-hub.ts) instead of a child workflow and external signals: histories recorded
 * before it started children and signalled them.
 */
export const PLAYS_BY_LOCAL_ACTIVITY_PATCH = 'customer-plays-by-local-activity';

/**
 * A run continues as new once its history holds this many events (the server's own
 * suggestion comes only after thousands): a task for a workflow the worker no longer
 * holds in its cache (after a restart, or with more customers active than the cache
 * holds: WORKER_MAX_CACHED_WORKFLOWS) replays the run's history first, so short runs
 * keep that cheap. The carried state is small (recent events, seen ids, dunnings).
 */
export const RUN_HISTORY_EVENTS = 1000;
/** Guards ending a run at RUN_HISTORY_EVENTS: runs recorded before it went on. */
export const BOUNDED_RUN_PATCH = 'customer-bounded-run';

const hub = proxyLocalActivities<PlayHubActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export interface CustomerWorkflowInput {
  workspaceId: string;
  customerId: string;
  /** Carried across continue-as-new. */
  recentEvents?: StripeEventSignal[];
  seenEventIds?: string[];
  /** Invoices whose dunning workflow this customer started, oldest first. */
  dunningInvoices?: string[];
  /** Events received but not yet routed to the plays. */
  pendingEvents?: StripeEventSignal[];
}

/**
 * One long-lived workflow per customer: the entry point for the customer's Stripe
 * events that a play acts on (the relay sends only those: domain/play-routing.ts;
 * the mirror and the analytics take all of them). It records each event once,
 * whatever the delivery count, and routes it to the customer's plays: a failed
 * payment starts the invoice's dunning workflow; a payment or the subscription's end
 * is forwarded to it. Starts and forwards go through local activities
 * (activities/play-hub.ts); runs from before PLAYS_BY_LOCAL_ACTIVITY_PATCH started the
 * dunnings as children and signalled them from here.
 */
export async function customerWorkflow(input: CustomerWorkflowInput): Promise<void> {
  const recent: StripeEventSignal[] = [...(input.recentEvents ?? [])];
  const seen: string[] = [...(input.seenEventIds ?? [])];
  const seenSet = new Set(seen);
  const dunningInvoices: string[] = [...(input.dunningInvoices ?? [])];
  // Routing happens in the main loop, one event at a time, so a payment that arrives
  // right after its failure reaches a dunning workflow that has already started.
  const pending: StripeEventSignal[] = [...(input.pendingEvents ?? [])];
  // Dunnings this run started as children and saw end (their completion reaches the parent anyway):
  // a later payment or subscription end has nothing left to stop there, and a signal to
  // an ended workflow costs Temporal a failed delivery and this workflow another task.
  // Not carried across continue-as-new: a later run forwards, and learns from the failure.
  const ended = new Set<string>();

  const receive = (event: StripeEventSignal) => {
    if (seenSet.has(event.eventId)) return;
    seenSet.add(event.eventId);
    seen.push(event.eventId);
    if (seen.length > SEEN_IDS_KEPT) seenSet.delete(seen.shift()!);
    recent.push(event);
    if (recent.length > RECENT_EVENTS_KEPT) recent.shift();
    if (routed(event.type) && patched(PLAYS_ROUTING_PATCH)) pending.push(event);
  };
  setHandler(stripeEventSignal, receive);
  setHandler(stripeEventsSignal, (events) => events.forEach(receive));
  setHandler(recentEventsQuery, () => recent);

  const forward = async (invoiceId: string, event: DunningEvent): Promise<boolean> => {
    if (ended.has(invoiceId) && patched(SKIP_ENDED_DUNNING_PATCH)) return false;
    if (patched(PLAYS_BY_LOCAL_ACTIVITY_PATCH)) return hub.signalDunningPlay({ workspaceId: input.workspaceId, invoiceId, event });
    try {
      await getExternalWorkflowHandle(dunningWorkflowId(input.workspaceId, invoiceId)).signal(dunningEventSignal, event);
      return true;
    } catch {
      // The dunning workflow has already ended: nothing left to stop.
      return false;
    }
  };

  const remember = (invoiceId: string) => {
    if (!dunningInvoices.includes(invoiceId)) dunningInvoices.push(invoiceId);
    if (dunningInvoices.length > DUNNING_INVOICES_KEPT) dunningInvoices.shift();
  };

  const route = async (event: StripeEventSignal): Promise<void> => {
    const at = event.stripeCreated;
    if (event.type === 'invoice.payment_failed' && event.objectId && patched(PLAYS_BY_LOCAL_ACTIVITY_PATCH)) {
      const invoiceId = event.objectId;
      const started = await hub.startDunningPlay({ workspaceId: input.workspaceId, customerId: input.customerId, invoiceId, failedAt: at });
      // One dunning per invoice, ever: a later failure of a running one is passed on to it.
      if (started === 'already_started') await forward(invoiceId, { kind: 'payment_failed', eventId: event.eventId, subscriptionId: null, at });
      remember(invoiceId);
    } else if (event.type === 'invoice.payment_failed' && event.objectId) {
      const invoiceId = event.objectId;
      try {
        const child = await startChild(dunningWorkflow, {
          workflowId: dunningWorkflowId(input.workspaceId, invoiceId),
          args: [{ workspaceId: input.workspaceId, customerId: input.customerId, invoiceId, failedAt: at }],
          // The dunning outlives this run: the customer workflow continues as new.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          // One dunning per invoice, ever: a later failure of a finished one starts nothing.
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          typedSearchAttributes: [
            { key: WORKSPACE_ID, value: input.workspaceId },
            { key: CUSTOMER_ID, value: input.customerId },
            { key: PLAY, value: 'dunning' },
          ],
        });
        const end = () => void ended.add(invoiceId);
        void child.result().then(end, end);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        await forward(invoiceId, { kind: 'payment_failed', eventId: event.eventId, subscriptionId: null, at });
      }
      remember(invoiceId);
    } else if (event.type === 'invoice.payment_succeeded' && event.objectId && dunningInvoices.includes(event.objectId)) {
      await forward(event.objectId, { kind: 'payment_succeeded', eventId: event.eventId, subscriptionId: null, at });
      dunningInvoices.splice(dunningInvoices.indexOf(event.objectId), 1);
    } else if (event.type === 'customer.subscription.deleted') {
      // Each dunning workflow knows its invoice's subscription and ignores the others'.
      for (const invoiceId of [...dunningInvoices]) {
        const endedAt = event.subscriptionEndedAt ? { subscriptionEndedAt: event.subscriptionEndedAt } : {};
        const delivered = await forward(invoiceId, { kind: 'subscription_deleted', eventId: event.eventId, subscriptionId: event.objectId, at, ...endedAt });
        if (!delivered) dunningInvoices.splice(dunningInvoices.indexOf(invoiceId), 1);
      }
    }
  };

  // patched() only once the run is long, so shorter runs record no marker.
  const runIsLong = () => workflowInfo().continueAsNewSuggested || (workflowInfo().historyLength >= RUN_HISTORY_EVENTS && patched(BOUNDED_RUN_PATCH));
  for (;;) {
    await condition(() => pending.length > 0 || workflowInfo().continueAsNewSuggested);
    while (pending.length > 0) await route(pending.shift()!);
    if (runIsLong()) break;
  }
  await condition(allHandlersFinished);
  await continueAsNew<typeof customerWorkflow>({
    workspaceId: input.workspaceId,
    customerId: input.customerId,
    recentEvents: recent,
    seenEventIds: seen,
    dunningInvoices,
    pendingEvents: pending,
  });
}

/** Whether a play may act on the event (the relay sends only those since play routing). */
function routed(type: string): boolean {
  return playInterest(type) !== 'never';
}
