import { condition, continueAsNew, setHandler, workflowInfo, allHandlersFinished } from '@temporalio/workflow';
import { recentEventsQuery, stripeEventSignal, type StripeEventSignal } from './messages';

/** How many recent events the workflow keeps to show (and to answer the query). */
export const RECENT_EVENTS_KEPT = 50;
/**
 * How many event ids are remembered for de-duplication. The relay may re-deliver an
 * event only shortly after the first delivery (it crashed before recording it), so a
 * bounded window is enough.
 */
export const SEEN_IDS_KEPT = 500;

export interface CustomerWorkflowInput {
  workspaceId: string;
  customerId: string;
  /** Carried across continue-as-new. */
  recentEvents?: StripeEventSignal[];
  seenEventIds?: string[];
}

/**
 * One long-lived workflow per customer: the entry point for every Stripe event that
 * concerns the customer. It records each event once, whatever the delivery count.
 */
export async function customerWorkflow(input: CustomerWorkflowInput): Promise<void> {
  const recent: StripeEventSignal[] = [...(input.recentEvents ?? [])];
  const seen: string[] = [...(input.seenEventIds ?? [])];
  const seenSet = new Set(seen);

  setHandler(stripeEventSignal, (event) => {
    if (seenSet.has(event.eventId)) return;
    seenSet.add(event.eventId);
    seen.push(event.eventId);
    if (seen.length > SEEN_IDS_KEPT) seenSet.delete(seen.shift()!);
    recent.push(event);
    if (recent.length > RECENT_EVENTS_KEPT) recent.shift();
  });
  setHandler(recentEventsQuery, () => recent);

  await condition(() => workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  await continueAsNew<typeof customerWorkflow>({
    workspaceId: input.workspaceId,
    customerId: input.customerId,
    recentEvents: recent,
    seenEventIds: seen,
  });
}
