import { randomUUID } from 'node:crypto';
import type { Db } from './knex';
import { EXPANSION_COOLING, type ExpansionEvidence, type ExpansionOutcome, type ExpansionTrigger } from '../domain/expansion';
import { expansionPitchWorkflowId } from '../workflows/ids';
import { outreachRows, type Outreach } from './outreach-rows';
import { DAY_MS } from '../domain/durations';

/** One time the expansion play pitched an upgrade to a customer (migration 025). */
export interface ExpansionPitch extends Outreach {
  trigger: ExpansionTrigger;
  evidence: ExpansionEvidence;
  targetProductId: string;
  outcome: ExpansionOutcome | null;
}

interface PitchRow {
  id: string;
  workspace_id: string;
  customer_id: string;
  workflow_id: string;
  trigger: ExpansionTrigger;
  evidence: ExpansionEvidence;
  target_product_id: string;
  started_at: Date;
  workflow_started_at: Date | null;
  outcome: ExpansionOutcome | null;
  ended_at: Date | null;
}

const toPitch = (r: PitchRow): ExpansionPitch => ({
  id: r.id,
  workspaceId: r.workspace_id,
  customerId: r.customer_id,
  workflowId: r.workflow_id,
  trigger: r.trigger,
  evidence: r.evidence,
  targetProductId: r.target_product_id,
  startedAt: r.started_at,
  workflowStartedAt: r.workflow_started_at,
  outcome: r.outcome,
  endedAt: r.ended_at,
});

export interface PitchCandidate {
  customerId: string;
  evidence: ExpansionEvidence;
  targetProductId: string;
}

/**
 * Opens a pitch for each candidate that has none open, had none that reached them
 * end within the last `cooldownDays` (EXPANSION_COOLING), is not in dunning and is
 * not being saved by the churn radar (an open save: that email asks what would keep
 * them, not what more they would buy) nor written a renewal note (it carries the
 * upgrade itself). One statement: the partial unique index keeps
 * concurrent scans from opening two.
 */
export async function openExpansionPitches(db: Db, workspaceId: string, candidates: readonly PitchCandidate[], opts: { cooldownDays: number; now: Date }): Promise<ExpansionPitch[]> {
  if (!candidates.length) return [];
  const rows = candidates.map((c) => {
    const id = randomUUID();
    return { id, customer_id: c.customerId, workflow_id: expansionPitchWorkflowId(workspaceId, id), trigger: c.evidence.trigger, evidence: c.evidence, target: c.targetProductId };
  });
  const since = new Date(opts.now.getTime() - opts.cooldownDays * DAY_MS);
  const result = await db.raw<{ rows: PitchRow[] }>(
    `insert into expansion_pitches (id, workspace_id, customer_id, workflow_id, trigger, evidence, target_product_id, started_at)
     select c.id, :ws, c.customer_id, c.workflow_id, c.trigger, c.evidence, c.target, :now
     from jsonb_to_recordset(:rows::jsonb) as c(id uuid, customer_id text, workflow_id text, trigger text, evidence jsonb, target text)
     where not exists (select 1 from expansion_pitches p where p.workspace_id = :ws and p.customer_id = c.customer_id and p.ended_at > :since and p.outcome = any(:cooling))
       and not exists (select 1 from dunning_cases d where d.workspace_id = :ws and d.customer_id = c.customer_id and d.ended_at is null)
       and not exists (select 1 from churn_saves s where s.workspace_id = :ws and s.customer_id = c.customer_id and s.ended_at is null)
       and not exists (select 1 from renewal_notes r where r.workspace_id = :ws and r.customer_id = c.customer_id and r.ended_at is null)
     on conflict (workspace_id, customer_id) where ended_at is null do nothing
     returning *`,
    { ws: workspaceId, now: opts.now, since, rows: JSON.stringify(rows), cooling: [...EXPANSION_COOLING] },
  );
  return result.rows.map(toPitch);
}

/** The pitches' lifecycle, as the expansion scan and workflow drive it (activities/outreach-scan.ts). */
export const expansionPitchRows = outreachRows<PitchRow, ExpansionPitch, ExpansionOutcome>('expansion_pitches', toPitch);

/** Records what a pitch's draft pitches: the trigger, its evidence and the plan, as the customer was when it was written. */
export async function recordPitch(db: Db, id: string, evidence: ExpansionEvidence, targetProductId: string): Promise<void> {
  await db('expansion_pitches').where({ id }).update({ trigger: evidence.trigger, evidence: JSON.stringify(evidence), target_product_id: targetProductId });
}
