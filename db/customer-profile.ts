import type { Db } from './knex';
import { loadCustomerMovements } from './analytics';
import { openRow } from './customer-pii';
import { listDrafts } from './drafts';
import { churnRiskOf } from './churn-risk';
import { listChurnSaves } from './churn-saves';
import { expansionPitchRows } from './expansion-pitches';
import { renewalNoteRows } from './renewal-notes';
import { customerPlan } from './customer-plan';
import { effectiveMapping } from './product-mapping';
import { limitsUse } from '../domain/product-activity';
import { mrrAt } from '../domain/mrr';
import { customerActivity } from './product-signals';
import type { CustomerProfile } from '../domain/customer-profile';
import { periodAmount, unitPrice } from '../domain/price-amount';
import { PRICE_TERM_COLUMNS, priceTerms, type PriceTermRow } from './price-terms';
import type { Keyring } from '../platform/crypto';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

interface InvoiceRow {
  id: string;
  status: string | null;
  currency: string;
  amount_due: string | number;
  amount_paid: string | number;
  amount_remaining: string | number;
  created: Date | null;
  attempt_count: number;
  next_payment_attempt: Date | null;
  hosted_invoice_url: string | null;
}

/** How many of the customer's latest drafts and dunnings the page lists. */
const RECENT = 50;

/** The customer's profile; undefined when Wysera knows nothing of this id in the workspace. */
export async function customerProfile(db: Db, ring: Keyring, workspaceId: string, customerId: string): Promise<CustomerProfile | undefined> {
  const now = new Date();
  const [mirrored, summary, movements, subscriptions, items, invoices, dunnings, drafts, [activity, risk], saves, pitches, notes, plan] = await Promise.all([
    db('stripe_customers').where({ workspace_id: workspaceId, id: customerId }).first<{ id: string; email: string | null; name: string | null; livemode: boolean } | undefined>('id', 'email', 'name', 'livemode'),
    db('analytics_customers').where({ workspace_id: workspaceId, customer_id: customerId }).first<{ currency: string; cohort_month: string | null } | undefined>('currency', 'cohort_month'),
    loadCustomerMovements(db, workspaceId, customerId),
    db('stripe_subscriptions')
      .where({ workspace_id: workspaceId, customer_id: customerId })
      .orderBy([{ column: 'start_date', order: 'desc', nulls: 'last' }, { column: 'id' }])
      .select<{ id: string; status: string; currency: string; start_date: Date | null; current_period_end: Date | null; cancel_at_period_end: boolean; ended_at: Date | null }[]>('id', 'status', 'currency', 'start_date', 'current_period_end', 'cancel_at_period_end', 'ended_at'),
    db('stripe_subscription_items as i')
      .join('stripe_subscriptions as s', function () {
        this.on('s.workspace_id', 'i.workspace_id').andOn('s.id', 'i.subscription_id');
      })
      .leftJoin('stripe_prices as p', function () {
        this.on('p.workspace_id', 'i.workspace_id').andOn('p.id', 'i.price_id');
      })
      .leftJoin('stripe_products as pr', function () {
        this.on('pr.workspace_id', 'p.workspace_id').andOn('pr.id', 'p.product_id');
      })
      .where({ 'i.workspace_id': workspaceId, 's.customer_id': customerId })
      .orderBy('i.id')
      .select<(PriceTermRow & { subscription_id: string; price_id: string; quantity: number | null; product: string | null; recurring_interval: string | null; recurring_interval_count: number | null })[]>(
        'i.subscription_id',
        'i.price_id',
        'i.quantity',
        'pr.name as product',
        ...PRICE_TERM_COLUMNS,
        'p.recurring_interval',
        'p.recurring_interval_count',
      ),
    db('stripe_invoices')
      .where({ workspace_id: workspaceId, customer_id: customerId })
      .orderBy([{ column: 'created', order: 'desc', nulls: 'last' }, { column: 'id' }])
      .limit(RECENT)
      .select<InvoiceRow[]>('id', 'status', 'currency', 'amount_due', 'amount_paid', 'amount_remaining', 'created', 'attempt_count', 'next_payment_attempt', 'hosted_invoice_url'),
    db('dunning_cases').where({ workspace_id: workspaceId, customer_id: customerId }).orderBy('failed_at', 'desc').limit(RECENT).select<{ invoice_id: string; currency: string; amount_due: string | number; failed_at: Date; outcome: string | null; emails_sent: number; ended_at: Date | null }[]>('invoice_id', 'currency', 'amount_due', 'failed_at', 'outcome', 'emails_sent', 'ended_at'),
    listDrafts(db, workspaceId, { customerId, limit: RECENT }),
    // The risk reads the activity the page shows, rather than reading it again.
    customerActivity(db, workspaceId, customerId, now).then(async (read) => [read, await churnRiskOf(db, workspaceId, customerId, now, read)] as const),
    listChurnSaves(db, workspaceId, { customerId, limit: 10 }),
    expansionPitchRows.list(db, workspaceId, { customerId, limit: 10 }),
    renewalNoteRows.list(db, workspaceId, { customerId, limit: 10 }),
    customerPlan(db, workspaceId, customerId),
  ]);
  // The mapping (the whole catalogue) only for a customer with a plan to find in it, or pitches to name the plans of.
  const mapping = plan || pitches.length ? await effectiveMapping(db, workspaceId) : [];
  const mapped = plan && mapping.find((m) => m.productId === plan.productId);
  // Named `usage` so a workspace that hides the usage hides these counts with it.
  const usage = mapped ? limitsUse(mapped.limits, activity.usage) : [];
  const contact = mirrored && openRow(ring, workspaceId, mirrored);
  if (!contact && !summary && movements.length === 0 && subscriptions.length === 0 && invoices.length === 0 && dunnings.length === 0 && drafts.length === 0 && pitches.length === 0 && notes.length === 0 && !activity.lastSignalAt) return undefined;
  return {
    customerId,
    name: contact ? contact.name : null,
    email: contact ? contact.email : null,
    mirrored: mirrored !== undefined,
    livemode: mirrored?.livemode ?? null,
    mrr: summary ? mrrAt(movements, now) : null,
    reportingCurrency: summary?.currency.trim() ?? null,
    cohortMonth: summary?.cohort_month ?? null,
    movements: movements.map((m) => ({ at: m.at.toISOString(), kind: m.kind, amount: m.amount, mrrBefore: m.mrrBefore, mrrAfter: m.mrrAfter })),
    subscriptions: subscriptions.map((s) => ({
      id: s.id,
      status: s.status,
      currency: s.currency.trim(),
      startDate: iso(s.start_date),
      currentPeriodEnd: iso(s.current_period_end),
      cancelAtPeriodEnd: s.cancel_at_period_end,
      endedAt: iso(s.ended_at),
      items: items
        .filter((i) => i.subscription_id === s.id)
        .map((i) => {
          const terms = priceTerms(i);
          return { priceId: i.price_id, product: i.product, quantity: i.quantity, unitAmount: unitPrice(terms), amount: periodAmount(terms, i.quantity ?? 1), interval: i.recurring_interval, intervalCount: i.recurring_interval_count };
        }),
    })),
    invoices: invoices.map((i) => ({
      id: i.id,
      status: i.status,
      currency: i.currency.trim(),
      amountDue: Number(i.amount_due),
      amountPaid: Number(i.amount_paid),
      amountRemaining: Number(i.amount_remaining),
      created: iso(i.created),
      attemptCount: i.attempt_count,
      nextPaymentAttempt: iso(i.next_payment_attempt),
      // Shown as a link: anything but a web address (javascript:, data:) is dropped.
      hostedInvoiceUrl: i.hosted_invoice_url && /^https?:\/\//i.test(i.hosted_invoice_url) ? i.hosted_invoice_url : null,
    })),
    dunnings: dunnings.map((d) => ({ invoiceId: d.invoice_id, currency: d.currency.trim(), amountDue: Number(d.amount_due), failedAt: d.failed_at.toISOString(), outcome: d.outcome, emailsSent: d.emails_sent, endedAt: iso(d.ended_at) })),
    drafts: drafts.map((d) => ({ id: d.id, play: d.play, step: d.step, status: d.status, createdAt: d.createdAt.toISOString() })),
    activity: { ...activity, limits: mapped && usage.length ? { plan: mapped.planName, usage } : null },
    risk: risk ?? null,
    saves: saves.map((s) => ({ id: s.id, startedAt: s.startedAt.toISOString(), risk: { score: s.riskScore }, intervention: s.intervention, outcome: s.outcome, endedAt: iso(s.endedAt) })),
    renewalNotes: notes.map((n) => ({ id: n.id, subscriptionId: n.subscriptionId, renewsAt: n.renewsAt.toISOString(), fold: n.fold, outcome: n.outcome, endedAt: iso(n.endedAt) })),
    pitches: pitches.map((p) => ({ id: p.id, startedAt: p.startedAt.toISOString(), trigger: p.trigger, plan: mapping.find((m) => m.productId === p.targetProductId)?.planName ?? p.targetProductId, outcome: p.outcome, endedAt: iso(p.endedAt) })),
  };
}
