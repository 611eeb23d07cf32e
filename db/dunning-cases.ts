import type { DunningOutcome } from '../workflows/play-messages';
import type { Db } from './knex';

/** One failed invoice's dunning, kept for recovery analytics. */
export interface DunningCase {
  workspaceId: string;
  invoiceId: string;
  customerId: string;
  workflowId: string;
  currency: string;
  amountDue: number;
  failedAt: Date;
  outcome: DunningOutcome | null;
  emailsSent: number;
  lastStepSent: number | null;
  /** The steps emailed; null for running cases and for older ones migration 019 could not fill in. */
  stepsSent: number[] | null;
  endedAt: Date | null;
}

interface DunningCaseRow {
  workspace_id: string;
  invoice_id: string;
  customer_id: string;
  workflow_id: string;
  currency: string;
  amount_due: number;
  failed_at: Date;
  outcome: DunningOutcome | null;
  emails_sent: number;
  last_step_sent: number | null;
  steps_sent: number[] | null;
  ended_at: Date | null;
}

const toCase = (r: DunningCaseRow): DunningCase => ({
  workspaceId: r.workspace_id,
  invoiceId: r.invoice_id,
  customerId: r.customer_id,
  workflowId: r.workflow_id,
  currency: r.currency.trim(),
  amountDue: r.amount_due,
  failedAt: r.failed_at,
  outcome: r.outcome,
  emailsSent: r.emails_sent,
  lastStepSent: r.last_step_sent,
  stepsSent: r.steps_sent,
  endedAt: r.ended_at,
});

/** Opens the case when dunning starts; a second start (a retried activity) changes nothing. */
export async function openDunningCase(
  db: Db,
  c: Pick<DunningCase, 'workspaceId' | 'invoiceId' | 'customerId' | 'workflowId' | 'currency' | 'amountDue' | 'failedAt'>,
): Promise<void> {
  await db('dunning_cases')
    .insert({
      workspace_id: c.workspaceId,
      invoice_id: c.invoiceId,
      customer_id: c.customerId,
      workflow_id: c.workflowId,
      currency: c.currency,
      amount_due: c.amountDue,
      failed_at: c.failedAt,
    })
    .onConflict(['workspace_id', 'invoice_id'])
    .ignore();
}

export async function closeDunningCase(
  db: Db,
  workspaceId: string,
  invoiceId: string,
  end: { outcome: DunningOutcome; stepsSent: number[]; endedAt: Date },
): Promise<void> {
  const stepsSent = [...new Set(end.stepsSent)].sort((a, b) => a - b);
  await db('dunning_cases')
    .where({ workspace_id: workspaceId, invoice_id: invoiceId })
    .whereNull('outcome')
    .update({
      outcome: end.outcome,
      emails_sent: stepsSent.length,
      last_step_sent: stepsSent.length ? stepsSent[stepsSent.length - 1]! : null,
      steps_sent: stepsSent,
      ended_at: end.endedAt,
    });
}

/** Cases whose payment failed in [from, to). */
export async function listDunningCases(db: Db, workspaceId: string, from: Date, to: Date): Promise<DunningCase[]> {
  const rows = await db<DunningCaseRow>('dunning_cases').where({ workspace_id: workspaceId }).where('failed_at', '>=', from).where('failed_at', '<', to).orderBy('failed_at');
  return rows.map(toCase);
}

export async function findDunningCase(db: Db, workspaceId: string, invoiceId: string): Promise<DunningCase | undefined> {
  const row = await db<DunningCaseRow>('dunning_cases').where({ workspace_id: workspaceId, invoice_id: invoiceId }).first();
  return row && toCase(row);
}

/** Whether the customer has a dunning running (another play is writing to them about a payment). */
export async function inDunning(db: Db, workspaceId: string, customerId: string): Promise<boolean> {
  return (await db('dunning_cases').where({ workspace_id: workspaceId, customer_id: customerId }).whereNull('ended_at').first('invoice_id')) !== undefined;
}
