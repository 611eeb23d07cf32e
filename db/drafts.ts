import { randomUUID } from 'node:crypto';
import { canTransition, OPEN_DRAFT_STATUSES, type DraftStatus } from '../domain/drafts';
import { appendAudit } from './audit';
import { inTransaction, type Db } from './knex';

/** A draft of any play, with the facts it cites. */
export interface Draft {
  id: string;
  workspaceId: string;
  customerId: string;
  play: string;
  step: string;
  workflowId: string;
  subjectRef: string | null;
  templateKey: string | null;
  status: DraftStatus;
  toAddress: string | null;
  subject: string;
  bodyHtml: string;
  bodyText: string;
  facts: Record<string, unknown>;
  scheduledFor: Date | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

interface DraftRow {
  id: string;
  workspace_id: string;
  customer_id: string;
  play: string;
  step: string;
  workflow_id: string;
  subject_ref: string | null;
  template_key: string | null;
  status: DraftStatus;
  to_address: string | null;
  subject: string;
  body_html: string;
  body_text: string;
  facts: Record<string, unknown>;
  scheduled_for: Date | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const toDraft = (r: DraftRow): Draft => ({
  id: r.id,
  workspaceId: r.workspace_id,
  customerId: r.customer_id,
  play: r.play,
  step: r.step,
  workflowId: r.workflow_id,
  subjectRef: r.subject_ref,
  templateKey: r.template_key,
  status: r.status,
  toAddress: r.to_address,
  subject: r.subject,
  bodyHtml: r.body_html,
  bodyText: r.body_text,
  facts: r.facts,
  scheduledFor: r.scheduled_for,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** What the audit log keeps of a draft: enough to see what changed, not the whole body twice. */
const auditView = (d: Draft) => ({ status: d.status, subject: d.subject, version: d.version, scheduledFor: d.scheduledFor, bodyText: d.bodyText });

export type NewDraft = Pick<
  Draft,
  'workspaceId' | 'customerId' | 'play' | 'step' | 'workflowId' | 'subjectRef' | 'templateKey' | 'toAddress' | 'subject' | 'bodyHtml' | 'bodyText' | 'scheduledFor'
> & {
  status: Extract<DraftStatus, 'drafted' | 'scheduled'>;
  facts: object;
};

/**
 * Creates the draft of a workflow's step, or returns the one already there: an
 * activity retried after a crash finds its first draft instead of making a second.
 */
export async function createDraftOnce(db: Db, input: NewDraft, actor: string): Promise<{ draft: Draft; created: boolean }> {
  return db.transaction(async (trx) => {
    const inserted = (await trx('drafts')
      .insert({
        id: randomUUID(),
        workspace_id: input.workspaceId,
        customer_id: input.customerId,
        play: input.play,
        step: input.step,
        workflow_id: input.workflowId,
        subject_ref: input.subjectRef,
        template_key: input.templateKey,
        status: input.status,
        to_address: input.toAddress,
        subject: input.subject,
        body_html: input.bodyHtml,
        body_text: input.bodyText,
        facts: JSON.stringify(input.facts),
        scheduled_for: input.scheduledFor,
      })
      .onConflict(['workflow_id', 'step'])
      .ignore()
      .returning('*')) as DraftRow[];
    if (inserted[0]) {
      const draft = toDraft(inserted[0]);
      await appendAudit(trx, { workspaceId: draft.workspaceId, actor, action: 'draft.created', targetType: 'draft', targetId: draft.id, after: auditView(draft) });
      return { draft, created: true };
    }
    const existing = await trx<DraftRow>('drafts').where({ workflow_id: input.workflowId, step: input.step }).first();
    return { draft: toDraft(existing!), created: false };
  });
}

export async function findDraft(db: Db, workspaceId: string, id: string): Promise<Draft | undefined> {
  if (!isUuid(id)) return undefined;
  const row = await db<DraftRow>('drafts').where({ workspace_id: workspaceId, id }).first();
  return row && toDraft(row);
}

export async function findDraftById(db: Db, id: string): Promise<Draft | undefined> {
  const row = await db<DraftRow>('drafts').where({ id }).first();
  return row && toDraft(row);
}

export async function findStepDraft(db: Db, workflowId: string, step: string): Promise<Draft | undefined> {
  const row = await db<DraftRow>('drafts').where({ workflow_id: workflowId, step }).first();
  return row && toDraft(row);
}

export interface DraftFilter {
  play?: string;
  status?: DraftStatus;
  customerId?: string;
  limit?: number;
  /** Drafts created before this one (paging backwards). */
  before?: Date;
}

export async function listDrafts(db: Db, workspaceId: string, f: DraftFilter = {}): Promise<Draft[]> {
  const q = db<DraftRow>('drafts').where({ workspace_id: workspaceId }).orderBy('created_at', 'desc').orderBy('id').limit(f.limit ?? 50);
  if (f.play) void q.where({ play: f.play });
  if (f.status) void q.where({ status: f.status });
  if (f.customerId) void q.where({ customer_id: f.customerId });
  if (f.before) void q.where('created_at', '<', f.before);
  return (await q).map(toDraft);
}

export class DraftTransitionError extends Error {
  constructor(
    readonly draftId: string,
    readonly from: DraftStatus,
    readonly to: DraftStatus,
  ) {
    super(`draft ${draftId} is ${from}; it cannot become ${to}`);
    this.name = 'DraftTransitionError';
  }
}

export interface DraftChange {
  to: DraftStatus;
  actor: string;
  /** Why, when the system made the change (mode changed, sequence ended...). */
  reason?: string;
  /** New content, with `edited`. */
  content?: { subject?: string; bodyHtml?: string; bodyText?: string };
  /** Only from these statuses; otherwise the draft is returned unchanged (no error). */
  onlyFrom?: readonly DraftStatus[];
  /** Recorded with the audit entry, e.g. `{ endSequence: true }` with a discard. */
  note?: Record<string, unknown>;
}

/**
 * Moves a draft to another status (with new content for an edit) and audits it with
 * its actor, in one transaction with the row locked so two reviewers cannot race.
 * Throws DraftTransitionError for a transition the lifecycle does not allow.
 */
export async function transitionDraft(db: Db, draftId: string, change: DraftChange): Promise<Draft> {
  const run = async (trx: Db): Promise<Draft> => {
    const row = await trx<DraftRow>('drafts').where({ id: draftId }).forUpdate().first();
    if (!row) throw new Error(`no draft ${draftId}`);
    const before = toDraft(row);
    if (change.onlyFrom && !change.onlyFrom.includes(before.status)) return before;
    if (!canTransition(before.status, change.to)) throw new DraftTransitionError(draftId, before.status, change.to);
    const [updated] = (await trx('drafts')
      .where({ id: draftId })
      .update({
        status: change.to,
        ...(change.content?.subject === undefined ? {} : { subject: change.content.subject }),
        ...(change.content?.bodyHtml === undefined ? {} : { body_html: change.content.bodyHtml }),
        ...(change.content?.bodyText === undefined ? {} : { body_text: change.content.bodyText }),
        version: before.version + 1,
        updated_at: trx.fn.now(),
      })
      .returning('*')) as DraftRow[];
    const after = toDraft(updated!);
    await appendAudit(trx, {
      workspaceId: after.workspaceId,
      actor: change.actor,
      action: `draft.${change.to}`,
      targetType: 'draft',
      targetId: draftId,
      before: auditView(before),
      after: { ...auditView(after), ...(change.reason ? { reason: change.reason } : {}), ...(change.note ?? {}) },
    });
    return after;
  };
  return inTransaction(db, run);
}

/**
 * Whether the person who discarded a draft also ended its sequence. Kept with the
 * audit entry of the discard, so the play's workflow learns it from the database even
 * when the API's signal did not reach it.
 */
export async function discardEndedSequence(db: Db, workspaceId: string, draftId: string): Promise<boolean> {
  const row = await db<{ id: number; workspace_id: string; target_type: string; target_id: string; action: string; after: { endSequence?: unknown } | null }>('audit_log')
    .select('after')
    .where({ workspace_id: workspaceId, target_type: 'draft', target_id: draftId, action: 'draft.discarded' })
    .orderBy('id', 'desc')
    .first();
  return row?.after?.endSequence === true;
}

/** Cancels every unsent draft of a workflow (or only the given ones); returns how many. */
export async function cancelOpenDrafts(db: Db, workflowId: string, actor: string, reason: string, only?: string[]): Promise<number> {
  const q = db<DraftRow>('drafts').select('id').where({ workflow_id: workflowId }).whereIn('status', OPEN_DRAFT_STATUSES);
  if (only) void q.whereIn('id', only);
  const ids = (await q).map((r) => r.id);
  for (const id of ids) await transitionDraft(db, id, { to: 'cancelled', actor, reason, onlyFrom: OPEN_DRAFT_STATUSES });
  return ids.length;
}

const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
