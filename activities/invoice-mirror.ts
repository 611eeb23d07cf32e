import { queueInvoiceReread } from '../db/inbox';
import type { Knex } from '../db/knex';
import { mirroredDunningFacts } from '../db/mirror';
import type { RereadNotice } from '../domain/event-types';
import type { Logger } from '../platform/logger';

/**
 * When Wysera reads an invoice from Stripe in another status than the mirror's (a
 * play's check, or the answer to its own "mark paid out of band"), queues a re-read of
 * it (queueInvoiceReread, once per status). Most often an event is on its
 * way; but an invoice marked paid out of band, voided or written off in Stripe's
 * dashboard sends no subscribed event, and the mirror (MRR with it, which counts an
 * open invoice as unpaid) would hold the old status until the next sync. Best effort:
 * the play goes on by what Stripe said either way. `mirrored`: the mirror's status when
 * the caller has read it already.
 */
export async function rereadIfMirrorBehind(
  deps: { db: Knex; log: Logger },
  invoice: { workspaceId: string; invoiceId: string; customerId: string | null; stripeStatus: string | null },
  noticed: RereadNotice,
  mirrored?: string | null,
): Promise<void> {
  const { workspaceId, invoiceId, stripeStatus } = invoice;
  if (!stripeStatus) return;
  try {
    const stored = mirrored !== undefined ? mirrored : (await mirroredDunningFacts(deps.db, workspaceId, invoiceId)).invoiceStatus;
    if (stored === stripeStatus) return;
    const queued = await queueInvoiceReread(deps.db, workspaceId, { id: invoiceId, customerId: invoice.customerId, status: stripeStatus }, noticed);
    if (queued) deps.log.info({ workspaceId, invoiceId, stripeStatus, mirrored: stored, rereadEventId: queued }, "Stripe's invoice is ahead of the mirror: queued a re-read");
  } catch (err) {
    deps.log.warn({ err: (err as Error).message, workspaceId, invoiceId }, 'could not queue a re-read of the invoice');
  }
}
