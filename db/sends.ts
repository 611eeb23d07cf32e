import type { Db } from './knex';
import { withoutAccountNumbers } from '../domain/aws-arns';
import { SENDABLE_DRAFT_STATUSES } from '../domain/drafts';

/**
 * The send ledger: one row per draft, ever (unique idempotency key). A send is
 * reserved ('sending') and committed before the provider is called, so a crash at
 * any point leaves evidence that the email may have gone out.
 */
export type SendStatus = 'sending' | 'retry' | 'sent' | 'failed' | 'unconfirmed';

export interface Send {
  id: number;
  workspaceId: string;
  draftId: string;
  idempotencyKey: string;
  provider: string;
  status: SendStatus;
  toAddress: string | null;
  providerMessageId: string | null;
  error: string | null;
  attempts: number;
  startedAt: Date;
  finishedAt: Date | null;
  /** When the provider refused the workspace's sender at the last attempt (the send waits for it to be put right). */
  senderRefusedAt: Date | null;
}

interface SendRow {
  id: number;
  workspace_id: string;
  draft_id: string;
  idempotency_key: string;
  provider: string;
  status: SendStatus;
  to_address: string | null;
  provider_message_id: string | null;
  error: string | null;
  attempts: number;
  started_at: Date;
  finished_at: Date | null;
  sender_refused_at: Date | null;
}

const toSend = (r: SendRow): Send => ({
  id: r.id,
  workspaceId: r.workspace_id,
  draftId: r.draft_id,
  idempotencyKey: r.idempotency_key,
  provider: r.provider,
  status: r.status,
  toAddress: r.to_address,
  providerMessageId: r.provider_message_id,
  error: r.error,
  attempts: r.attempts,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  senderRefusedAt: r.sender_refused_at,
});

/** The ledger key of a draft: one email per draft, whatever its edits. */
export const sendKeyOf = (draftId: string) => `draft:${draftId}`;

export interface Reservation {
  workspaceId: string;
  draftId: string;
  idempotencyKey: string;
  provider: string;
  toAddress: string;
}

/**
 * Reserves the send: a new row, or a row left in 'retry' by a refused attempt, moves
 * to 'sending' and is returned. Any other existing row (sending, sent, failed,
 * unconfirmed) is returned as `existing` and nothing is reserved: the caller must
 * not call the provider.
 */
export async function reserveSend(db: Db, r: Reservation): Promise<{ reserved: Send } | { existing: Send }> {
  const rows = (await db
    .raw(
      `insert into sends (workspace_id, draft_id, idempotency_key, provider, status, to_address)
       values (?, ?, ?, ?, 'sending', ?)
       on conflict (idempotency_key) do update
         set status = 'sending', attempts = sends.attempts + 1, provider = excluded.provider, to_address = excluded.to_address, error = null, sender_refused_at = null
         where sends.status = 'retry'
       returning *`,
      [r.workspaceId, r.draftId, r.idempotencyKey, r.provider, r.toAddress],
    )
    .then((res: { rows: SendRow[] }) => res.rows));
  if (rows[0]) return { reserved: toSend(rows[0]) };
  const existing = await db<SendRow>('sends').where({ idempotency_key: r.idempotencyKey }).first();
  return { existing: toSend(existing!) };
}

/**
 * Closes a send that must never go out (its draft overtaken by the next step), as one
 * write to its ledger row: a new row, or one a refused attempt left in 'retry', becomes
 * 'failed' with `reason`. An attempt of the same send still running (a timed-out one
 * Temporal has already retried) then finds the row taken and never calls the provider.
 * False when an attempt holds or held it already (sending, sent, failed, unconfirmed):
 * that attempt settles it.
 */
export async function closeUnsent(db: Db, r: Reservation & { reason: string }): Promise<boolean> {
  const { rows } = await db.raw<{ rows: { id: string }[] }>(
    `insert into sends (workspace_id, draft_id, idempotency_key, provider, status, to_address, error, finished_at)
     values (?, ?, ?, ?, 'failed', ?, ?, now())
     on conflict (idempotency_key) do update
       set status = 'failed', error = excluded.error, sender_refused_at = null, finished_at = now()
       where sends.status = 'retry'
     returning id`,
    [r.workspaceId, r.draftId, r.idempotencyKey, r.provider, r.toAddress, r.reason],
  );
  return rows.length > 0;
}

/**
 * Records how an attempt ended. `senderRefused` (with 'retry'): the provider refused the
 * workspace's sender, not this message, and the send waits for that to be put right
 * (`senderHold`).
 */
export async function finishSend(
  db: Db,
  idempotencyKey: string,
  outcome: { status: 'sent'; providerMessageId: string | null } | { status: 'failed' | 'unconfirmed'; error: string } | { status: 'retry'; error: string; senderRefused?: boolean },
): Promise<Send> {
  const [row] = (await db('sends')
    .where({ idempotency_key: idempotencyKey })
    .update({
      status: outcome.status,
      provider_message_id: outcome.status === 'sent' ? outcome.providerMessageId : null,
      error: outcome.status === 'sent' ? null : outcome.error,
      finished_at: outcome.status === 'retry' ? null : db.fn.now(),
      sender_refused_at: outcome.status === 'retry' && outcome.senderRefused ? db.fn.now() : null,
    })
    .returning('*')) as SendRow[];
  return toSend(row!);
}

export async function findSend(db: Db, idempotencyKey: string): Promise<Send | undefined> {
  const row = await db<SendRow>('sends').where({ idempotency_key: idempotencyKey }).first();
  return row && toSend(row);
}

export async function listSends(db: Db, workspaceId: string): Promise<Send[]> {
  return (await db<SendRow>('sends').where({ workspace_id: workspaceId }).orderBy('id')).map(toSend);
}

/** Sends held because the provider refused the workspace's sender: how many, and the latest refusal. */
export interface SenderHold {
  drafts: number;
  lastRefusedAt: Date;
  provider: string;
  error: string;
}

/**
 * The workspace's sends waiting for its sender to be put right: refused for the sender
 * at their last attempt, and their drafts still to be sent (a draft discarded or
 * expired since no longer waits). Null when none is.
 */
export async function senderHold(db: Db, workspaceId: string): Promise<SenderHold | null> {
  const { rows } = await db.raw<{ rows: { drafts: number; last_refused_at: Date | null; provider: string | null; error: string | null }[] }>(
    `select count(*)::int as drafts, max(s.sender_refused_at) as last_refused_at,
            (array_agg(s.provider order by s.sender_refused_at desc))[1] as provider,
            (array_agg(s.error order by s.sender_refused_at desc))[1] as error
       from sends s join drafts d on d.id = s.draft_id
      where s.workspace_id = ? and s.sender_refused_at is not null and s.status = 'retry' and d.status = any(?)`,
    [workspaceId, [...SENDABLE_DRAFT_STATUSES]],
  );
  const r = rows[0];
  if (!r || r.drafts === 0 || !r.last_refused_at) return null;
  return { drafts: r.drafts, lastRefusedAt: r.last_refused_at, provider: r.provider ?? 'unknown', error: shownRefusal(r.error ?? '') };
}

/** How much of a provider's refusal the page shows: enough to act on. */
const SHOWN_REFUSAL_CHARS = 500;

/**
 * A provider's refusal as every member may read it: ARNs, with their AWS account numbers,
 * cut (email/ses.ts cuts them from SES's words; rows written before it did keep them),
 * and a long answer cut short.
 */
export function shownRefusal(error: string): string {
  const masked = withoutAccountNumbers(error);
  return masked.length > SHOWN_REFUSAL_CHARS ? `${masked.slice(0, SHOWN_REFUSAL_CHARS)}…` : masked;
}

/**
 * Forgets that the provider refused the sender for this send: it waits now for
 * another reason (the workspace has no from-address or provider any more), which the
 * page must not explain with the old refusal.
 */
export async function clearSenderRefusal(db: Db, idempotencyKey: string): Promise<void> {
  await db('sends').where({ idempotency_key: idempotencyKey }).whereNotNull('sender_refused_at').update({ sender_refused_at: null });
}
