import { randomUUID } from 'node:crypto';
import type { Db } from './knex';
import type { RiskReason } from '../domain/churn-risk';
import { COOLING_OUTCOMES, type ChurnSaveOutcome, type InterventionKind } from '../domain/churn-save';
import { churnSaveWorkflowId } from '../workflows/ids';
import { outreachRows, type Outreach } from './outreach-rows';
import { DAY_MS } from '../domain/durations';

/** One time the churn radar reached out to a customer at risk (migration 024). */
export interface ChurnSave extends Outreach {
  id: string;
  workspaceId: string;
  customerId: string;
  workflowId: string;
  riskScore: number;
  threshold: number;
  reasons: RiskReason[];
  intervention: InterventionKind | null;
  startedAt: Date;
  workflowStartedAt: Date | null;
  outcome: ChurnSaveOutcome | null;
  endedAt: Date | null;
}

interface ChurnSaveRow {
  id: string;
  workspace_id: string;
  customer_id: string;
  workflow_id: string;
  risk_score: number;
  threshold: number;
  reasons: RiskReason[];
  intervention: InterventionKind | null;
  started_at: Date;
  workflow_started_at: Date | null;
  outcome: ChurnSaveOutcome | null;
  ended_at: Date | null;
}

const toSave = (r: ChurnSaveRow): ChurnSave => ({
  id: r.id,
  workspaceId: r.workspace_id,
  customerId: r.customer_id,
  workflowId: r.workflow_id,
  riskScore: r.risk_score,
  threshold: r.threshold,
  reasons: r.reasons,
  intervention: r.intervention,
  startedAt: r.started_at,
  workflowStartedAt: r.workflow_started_at,
  outcome: r.outcome,
  endedAt: r.ended_at,
});

export interface SaveCandidate {
  customerId: string;
  score: number;
  reasons: RiskReason[];
}

/**
 * Opens a save for each candidate that has none open, had none that reached them end
 * within the last `cooldownDays` (COOLING_OUTCOMES), is not in dunning (the
 * dunning play is already writing to them about the payment; two plays at once would
 * talk past each other) and has no renewal note open (it carries a save offer
 * itself). One statement: the partial unique index keeps concurrent
 * radars from opening two.
 */
export async function openChurnSaves(db: Db, workspaceId: string, candidates: readonly SaveCandidate[], opts: { threshold: number; cooldownDays: number; now: Date }): Promise<ChurnSave[]> {
  if (!candidates.length) return [];
  const rows = candidates.map((c) => {
    const id = randomUUID();
    return { id, customer_id: c.customerId, workflow_id: churnSaveWorkflowId(workspaceId, id), score: c.score, reasons: c.reasons };
  });
  const since = new Date(opts.now.getTime() - opts.cooldownDays * DAY_MS);
  const result = await db.raw<{ rows: ChurnSaveRow[] }>(
    `insert into churn_saves (id, workspace_id, customer_id, workflow_id, risk_score, threshold, reasons, started_at)
     select c.id, :ws, c.customer_id, c.workflow_id, c.score, :threshold, c.reasons, :now
     from jsonb_to_recordset(:rows::jsonb) as c(id uuid, customer_id text, workflow_id text, score int, reasons jsonb)
     where not exists (select 1 from churn_saves s where s.workspace_id = :ws and s.customer_id = c.customer_id and s.ended_at > :since and s.outcome = any(:cooling))
       and not exists (select 1 from dunning_cases d where d.workspace_id = :ws and d.customer_id = c.customer_id and d.ended_at is null)
       and not exists (select 1 from renewal_notes r where r.workspace_id = :ws and r.customer_id = c.customer_id and r.ended_at is null)
     on conflict (workspace_id, customer_id) where ended_at is null do nothing
     returning *`,
    { ws: workspaceId, threshold: opts.threshold, now: opts.now, since, rows: JSON.stringify(rows), cooling: [...COOLING_OUTCOMES] },
  );
  return result.rows.map(toSave);
}

/** The saves' lifecycle, as the radar's scan drives it (activities/outreach-scan.ts). */
export const churnSaveRows = outreachRows<ChurnSaveRow, ChurnSave, ChurnSaveOutcome>('churn_saves', toSave);
export const findChurnSave = churnSaveRows.find;
/** Ends an open save with its outcome, and answers it; a save already ended keeps its first one (undefined). */
export const closeChurnSave = churnSaveRows.close;
/** The workspace's latest saves, newest first (of one customer when given). */
export const listChurnSaves = churnSaveRows.list;

/** Records the offer a save's draft made (once: the draft's offer does not change). */
export async function recordIntervention(db: Db, id: string, intervention: InterventionKind): Promise<void> {
  await db('churn_saves').where({ id }).whereNull('intervention').update({ intervention });
}
