import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { dunningWorkflow, DunningWorkflowInput } from '../workflows/dunning';
import { dunningWorkflowId } from '../workflows/ids';
import { dunningEventSignal, type DunningEvent } from '../workflows/play-messages';
import { CUSTOMER_ID, PLAY, WORKSPACE_ID } from '../workflows/search-attributes';

export interface PlayHubDeps {
  /** A client of the namespace the worker runs in. */
  client: Client;
}

/**
 * How the customer workflow starts its plays and tells them about events: local
 * activities that call Temporal directly. A child workflow or an external signal
 * would cost the customer workflow two more workflow tasks each (the child's start
 * and its end, the signal's delivery come back to it as events); a local activity is
 * one marker in the task that routes the event. Both calls may run twice (a local
 * activity is retried if its task is lost), which is harmless: a dunning starts once
 * per invoice ever, and the dunning workflow takes the same event twice as once.
 */
export function createPlayHubActivities({ client }: PlayHubDeps) {
  return {
    /** Starts the invoice's dunning on the caller's task queue; an invoice that had one (running or not) gets no other. */
    async startDunningPlay(input: DunningWorkflowInput): Promise<'started' | 'already_started'> {
      try {
        await client.workflow.start<typeof dunningWorkflow>('dunningWorkflow', {
          workflowId: dunningWorkflowId(input.workspaceId, input.invoiceId),
          taskQueue: Context.current().info.taskQueue,
          args: [input],
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          typedSearchAttributes: [
            { key: WORKSPACE_ID, value: input.workspaceId },
            { key: CUSTOMER_ID, value: input.customerId },
            { key: PLAY, value: 'dunning' },
          ],
        });
        return 'started';
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already_started';
        throw err;
      }
    },

    /** Signals the invoice's dunning; false when it has ended (nothing left to stop). */
    async signalDunningPlay(input: { workspaceId: string; invoiceId: string; event: DunningEvent }): Promise<boolean> {
      try {
        await client.workflow.getHandle(dunningWorkflowId(input.workspaceId, input.invoiceId)).signal(dunningEventSignal, input.event);
        return true;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}

export type PlayHubActivities = ReturnType<typeof createPlayHubActivities>;
