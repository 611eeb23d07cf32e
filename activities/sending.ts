import { ApplicationFailure } from '@temporalio/activity';
import { findDraftById, transitionDraft, type Draft } from '../db/drafts';
import type { Knex } from '../db/knex';
import { getEmailSettings, type EmailSettings } from '../db/play-settings';
import { clearSenderRefusal, closeUnsent, finishSend, reserveSend, sendKeyOf } from '../db/sends';
import { isSendableDraft, SENDABLE_DRAFT_STATUSES } from '../domain/drafts';
import { isOvertaken } from '../domain/dunning-schedule';
import { EmailSendError, NO_PROVIDER_MESSAGE, type EmailSender } from '../email/sender';
import type { Logger } from '../platform/logger';
import { rereadIfMirrorBehind } from './invoice-mirror';
import { isWorthWaitingFor, type StripeReader } from './stripe-reader';
import type { WorkspaceSenders } from './workspace-senders';

export interface SendingActivityDeps {
  db: Knex;
  /** The deployment's provider; used for every workspace when `senders` is not given. */
  email: EmailSender;
  /** Each workspace's own provider when it configured one (falling back to `email`). */
  senders?: WorkspaceSenders;
  stripe: StripeReader;
  log: Logger;
  /** Used for workspaces that have not configured their own from-address. */
  defaultFrom?: EmailSettings;
}

/** What must still hold at the moment of sending; checked right before the ledger reservation. */
export type SendPrecondition = {
  kind: 'invoice_open';
  workspaceId: string;
  invoiceId: string;
  /** No send this close before a Stripe retry; wait for its outcome instead. */
  quietBeforeRetryMs?: number;
  /** How long after the retry the send may go. */
  afterRetryMs?: number;
  /**
   * When the sequence's next step is due (ISO-8601 UTC; none for the last step): an
   * attempt made from then on would send two emails in a row, so it cancels the draft
   * as overtaken instead (domain/dunning-schedule.ts isOvertaken).
   */
  nextStepAt?: string;
};

export type SendOutcome =
  | { kind: 'sent'; providerMessageId: string | null }
  | { kind: 'already_sent' }
  /** A previous attempt died after calling the provider: it may have gone out, so it is not sent again. */
  | { kind: 'unconfirmed' }
  | { kind: 'failed'; error: string }
  /**
   * The workspace has nothing to send with (no from-address, no provider), or its
   * provider refused the sender itself (EmailSendError.senderRefused): asked with
   * `waitForSender`, the draft stays as it was (not even scheduled, when known before
   * the call; an auto draft refused by the provider stays scheduled) for the caller to
   * try again once the workspace is set up; without it the draft fails.
   */
  | { kind: 'no_sender'; error: string }
  | { kind: 'not_sendable'; status: string }
  /** `paidOffStripe` with a paid invoice: marked paid out of band (absent from results recorded before it). */
  | { kind: 'precondition_failed'; invoiceStatus: string; paidOffStripe?: boolean }
  | { kind: 'retry_soon'; resumeAt: string }
  | { kind: 'stripe_unavailable'; error: string }
  /** The next step fell due before this email could go (SendPrecondition.nextStepAt): the draft is cancelled, nothing sent. */
  | { kind: 'overtaken'; nextStepAt: string };

export const EMAIL_PROVIDER_UNAVAILABLE = 'EmailProviderUnavailable';
const NO_FROM = 'the workspace has no from-address configured (PUT /workspaces/:id/email-settings)';
/** Why a dunning draft held up past the next step's time was cancelled (its audit entry). */
export const OVERTAKEN_REASON = 'overtaken by a later step: the next email was due before this one could go out';

/**
 * Sending a draft, exactly once at most. The ledger row (unique key per draft) is
 * reserved and committed before the provider is called. If the process dies after
 * the provider accepted the message but before the result is committed, the row
 * stays 'sending'; the retry finds it and marks it 'unconfirmed' instead of sending
 * again, because neither SendGrid's mail-send API nor SES can be asked whether a
 * given message was accepted (SendGrid's activity feed is a paid add-on and lags).
 * The idempotency key travels with the message (custom args / header / tag) so an
 * operator can reconcile an unconfirmed send in the provider's logs.
 */
export function createSendingActivities(deps: SendingActivityDeps) {
  const { db, email, stripe, log } = deps;

  async function checkPrecondition(p: SendPrecondition): Promise<SendOutcome | null> {
    let invoice;
    try {
      invoice = await stripe.invoice(p.workspaceId, p.invoiceId);
    } catch (err) {
      if (isWorthWaitingFor(err)) return { kind: 'stripe_unavailable', error: err.message };
      throw err;
    }
    if (!invoice) return { kind: 'precondition_failed', invoiceStatus: 'missing' };
    if (invoice.status !== 'open') {
      await rereadIfMirrorBehind(deps, { workspaceId: p.workspaceId, invoiceId: p.invoiceId, customerId: invoice.customerId || null, stripeStatus: invoice.status }, 'dunning_check');
      return { kind: 'precondition_failed', invoiceStatus: invoice.status ?? 'unknown', paidOffStripe: invoice.paidOffStripe };
    }
    if (invoice.nextPaymentAttempt && p.quietBeforeRetryMs) {
      const retry = Date.parse(invoice.nextPaymentAttempt);
      const now = Date.now();
      if (now >= retry - p.quietBeforeRetryMs && now < retry) return { kind: 'retry_soon', resumeAt: new Date(retry + (p.afterRetryMs ?? 0)).toISOString() };
    }
    return null;
  }

  /**
   * Cancels the draft when its sequence's next step is due (nextStepAt), unless the
   * ledger shows an attempt holds or held it: that one is settled as sent or unconfirmed
   * below, never cancelled. The ledger row is closed first, in the same transaction, so
   * an earlier attempt still running (timed out and retried by Temporal) cannot reserve
   * it and send after the cancel.
   */
  async function overtaken(p: SendPrecondition, draft: Draft, actor: string, provider: string): Promise<SendOutcome | null> {
    if (!p.nextStepAt || !isOvertaken({ at: p.nextStepAt }, Date.now())) return null;
    const closed = await db.transaction(async (trx) => {
      const ledger = { workspaceId: draft.workspaceId, draftId: draft.id, idempotencyKey: sendKeyOf(draft.id), provider, toAddress: draft.toAddress ?? '', reason: OVERTAKEN_REASON };
      if (!(await closeUnsent(trx, ledger))) return false;
      await transitionDraft(trx, draft.id, { to: 'cancelled', actor, reason: OVERTAKEN_REASON, onlyFrom: SENDABLE_DRAFT_STATUSES });
      return true;
    });
    if (!closed) return null;
    log.info({ workspaceId: draft.workspaceId, draftId: draft.id, nextStepAt: p.nextStepAt }, 'dunning send overtaken by the next step: cancelled');
    return { kind: 'overtaken', nextStepAt: p.nextStepAt };
  }

  return {
    async sendDraft(input: { draftId: string; actor: string; allowDrafted?: boolean; precondition?: SendPrecondition; waitForSender?: boolean }): Promise<SendOutcome> {
      let draft = await findDraftById(db, input.draftId);
      if (!draft) return { kind: 'not_sendable', status: 'missing' };
      if (draft.status === 'sent') return { kind: 'already_sent' };
      // Who it would go from, and through what: chosen before the reservation, so the ledger records the provider called.
      const from = (await getEmailSettings(db, draft.workspaceId)) ?? deps.defaultFrom;
      const sender = deps.senders ? await deps.senders.forWorkspace(draft.workspaceId) : email;
      const unset = !from ? NO_FROM : sender.provider === 'none' ? NO_PROVIDER_MESSAGE : null;
      // Asked to wait, the draft is left exactly as it is (an auto mode's draft not yet scheduled).
      if (unset && input.waitForSender && (isSendableDraft(draft.status) || (draft.status === 'drafted' && input.allowDrafted))) {
        log.warn({ workspaceId: draft.workspaceId, draftId: draft.id }, `send waits for the workspace's sender: ${unset}`);
        // Refused for its sender before, it is held now for want of one: not for that refusal.
        await clearSenderRefusal(db, sendKeyOf(draft.id));
        return { kind: 'no_sender', error: unset };
      }
      if (draft.status === 'drafted' && input.allowDrafted) {
        draft = await transitionDraft(db, draft.id, { to: 'scheduled', actor: input.actor, reason: 'auto mode', onlyFrom: ['drafted'] });
      }
      if (!isSendableDraft(draft.status)) return { kind: 'not_sendable', status: draft.status };

      if (input.precondition) {
        const blocked = (await overtaken(input.precondition, draft, input.actor, sender.provider)) ?? (await checkPrecondition(input.precondition));
        if (blocked) return blocked;
      }

      if (!draft.toAddress) {
        const error = 'the customer has no email address in Stripe';
        await transitionDraft(db, draft.id, { to: 'failed', actor: input.actor, reason: error });
        return { kind: 'failed', error };
      }
      if (!from) {
        await transitionDraft(db, draft.id, { to: 'failed', actor: input.actor, reason: NO_FROM });
        return { kind: 'failed', error: NO_FROM };
      }

      const key = sendKeyOf(draft.id);
      const reservation = await reserveSend(db, { workspaceId: draft.workspaceId, draftId: draft.id, idempotencyKey: key, provider: sender.provider, toAddress: draft.toAddress });
      if ('existing' in reservation) {
        const existing = reservation.existing;
        if (existing.status === 'sent') {
          await transitionDraft(db, draft.id, { to: 'sent', actor: input.actor, onlyFrom: SENDABLE_DRAFT_STATUSES });
          return { kind: 'already_sent' };
        }
        if (existing.status === 'failed') {
          await transitionDraft(db, draft.id, { to: 'failed', actor: input.actor, reason: existing.error ?? 'failed', onlyFrom: SENDABLE_DRAFT_STATUSES });
          return { kind: 'failed', error: existing.error ?? 'failed' };
        }
        // 'sending' (an attempt died mid-send) or already 'unconfirmed': possibly sent, never resent.
        const reason = 'an earlier attempt stopped after calling the provider; it may have gone out, so it is not sent again';
        if (existing.status === 'sending') await finishSend(db, key, { status: 'unconfirmed', error: reason });
        log.warn({ draftId: draft.id, idempotencyKey: key }, 'send unconfirmed: not resending');
        await transitionDraft(db, draft.id, { to: 'sent', actor: input.actor, reason, onlyFrom: SENDABLE_DRAFT_STATUSES });
        return { kind: 'unconfirmed' };
      }

      try {
        const accepted = await sender.send({
          from: { email: from.fromEmail, name: from.fromName },
          to: { email: draft.toAddress },
          replyTo: from.replyTo ? { email: from.replyTo } : null,
          subject: draft.subject,
          html: draft.bodyHtml,
          text: draft.bodyText,
          idempotencyKey: key,
          tags: { wysera_play: draft.play, wysera_workspace: draft.workspaceId },
        });
        await finishSend(db, key, { status: 'sent', providerMessageId: accepted.providerMessageId });
        await transitionDraft(db, draft.id, { to: 'sent', actor: input.actor, onlyFrom: SENDABLE_DRAFT_STATUSES });
        return { kind: 'sent', providerMessageId: accepted.providerMessageId };
      } catch (err) {
        if (!(err instanceof EmailSendError)) throw err;
        // A refusal of the sender that may pass by itself (SES's credentials not found, as
        // while an instance's role is being fetched) is retried where a play cannot wait for
        // the sender (dunning), and waited out where it can.
        if (err.retryable && !(err.senderRefused && input.waitForSender)) {
          // The provider did not take it: release the reservation for the next attempt
          // (a refusal of the sender stamped so, for the Emails page to show what is held).
          await finishSend(db, key, { status: 'retry', error: err.message, senderRefused: err.senderRefused });
          throw ApplicationFailure.retryable(err.message, EMAIL_PROVIDER_UNAVAILABLE);
        }
        if (err.senderRefused && input.waitForSender) {
          // The workspace cannot send anything as it is set up (a revoked key, an unverified
          // from-address): as with no sender at all, the draft waits for the settings to be
          // put right rather than failing, and the reservation is released for that send.
          await finishSend(db, key, { status: 'retry', error: err.message, senderRefused: true });
          const error = `the email provider refused the workspace's sender: ${err.message}`;
          log.warn({ workspaceId: draft.workspaceId, draftId: draft.id, provider: sender.provider, status: err.status }, `send waits for the workspace's sender: ${error}`);
          return { kind: 'no_sender', error };
        }
        await finishSend(db, key, { status: 'failed', error: err.message });
        await transitionDraft(db, draft.id, { to: 'failed', actor: input.actor, reason: err.message, onlyFrom: SENDABLE_DRAFT_STATUSES });
        return { kind: 'failed', error: err.message };
      }
    },
  };
}
