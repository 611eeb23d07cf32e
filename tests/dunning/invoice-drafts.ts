import type Stripe from 'stripe';
import { listDrafts, type Draft } from '../../db/drafts';
import type { Knex } from '../../db/knex';

/** The id of an invoice's customer, expanded or not. */
export const customerOf = (i: Stripe.Invoice) => (typeof i.customer === 'string' ? i.customer : i.customer!.id);

/** The dunning drafts of an invoice in the workspace, in step order. */
export const draftsOfInvoice = async (db: Knex, workspaceId: string, invoice: Stripe.Invoice): Promise<Draft[]> =>
  (await listDrafts(db, workspaceId, { play: 'dunning', limit: 100 })).filter((d) => d.subjectRef === invoice.id).sort((a, b) => a.step.localeCompare(b.step));
