import type {
  CustomerHistory,
  MirrorInvoice,
  MirrorInvoiceLine,
  MirrorPrice,
  MirrorSubscription,
  MirrorSubscriptionItem,
} from '../../domain/mrr';

/** `2025-01-15` or `2025-01-15T10:40` (UTC). */
export const at = (s: string): Date => new Date(s.length === 10 ? `${s}T00:00:00Z` : `${s}:00Z`);

export interface LineSpec {
  price: string;
  amount: number;
  start: string;
  end: string;
  quantity?: number;
  proration?: boolean;
  discount?: number;
  type?: 'subscription' | 'invoiceitem';
}

/**
 * Builds one customer's mirror rows the way Stripe would have produced them, so the
 * fixtures read like billing histories.
 */
export class CustomerBuilder {
  private readonly prices = new Map<string, MirrorPrice>();
  private readonly subscriptions: MirrorSubscription[] = [];
  private readonly items: MirrorSubscriptionItem[] = [];
  private readonly invoices: MirrorInvoice[] = [];
  private readonly lines: MirrorInvoiceLine[] = [];
  private seq = 0;

  constructor(readonly id: string) {}

  price(id: string, unitAmount: number | null, interval: string | null = 'month', opts: Partial<MirrorPrice> = {}): this {
    this.prices.set(id, {
      id,
      currency: 'usd',
      unit_amount: unitAmount,
      billing_scheme: 'per_unit',
      tiers_mode: null,
      tiers: null,
      transform_quantity: null,
      type: interval === null ? 'one_time' : 'recurring',
      recurring_interval: interval,
      recurring_interval_count: interval === null ? null : 1,
      recurring_usage_type: interval === null ? null : 'licensed',
      ...opts,
    });
    return this;
  }

  /** A subscription; `items` are its current items (price ids). */
  subscription(id: string, opts: Partial<MirrorSubscription> & { items?: string[] } = {}): this {
    const { items = [], ...rest } = opts;
    this.subscriptions.push({
      id,
      customer_id: this.id,
      status: 'active',
      currency: 'usd',
      cancel_at_period_end: false,
      cancel_at: null,
      canceled_at: null,
      ended_at: null,
      current_period_start: null,
      current_period_end: null,
      trial_start: null,
      trial_end: null,
      ...rest,
    });
    for (const price of items) this.items.push({ id: `si_${id}_${price}`, subscription_id: id, price_id: price, quantity: 1 });
    return this;
  }

  invoice(subscription: string, status: string, created: string, lines: LineSpec[], currency = 'usd'): this {
    const id = `in_${this.id}_${++this.seq}`;
    this.invoices.push({
      id,
      customer_id: this.id,
      subscription_id: subscription,
      status,
      currency,
      created: at(created),
      period_start: at(lines[0]?.start ?? created),
      period_end: at(lines[0]?.end ?? created),
    });
    lines.forEach((l, i) =>
      this.lines.push({
        id: `il_${id}_${i}`,
        invoice_id: id,
        subscription_id: l.type === 'invoiceitem' ? null : subscription,
        price_id: l.price,
        type: l.type ?? 'subscription',
        amount: l.amount,
        currency,
        quantity: l.quantity ?? 1,
        proration: l.proration ?? false,
        period_start: at(l.start),
        period_end: at(l.end),
        discount_amounts: l.discount ? [{ amount: l.discount, discount: 'di_test' }] : [],
      }),
    );
    return this;
  }

  /** One paid invoice per month from `firstMonth` (YYYY-MM) for `count` months, billed on `day`. */
  monthly(subscription: string, price: string, amount: number, firstMonth: string, count: number, opts: { day?: number; quantity?: number; discount?: (i: number) => number; currency?: string; status?: (i: number) => string } = {}): this {
    const [y, m] = firstMonth.split('-').map(Number) as [number, number];
    const day = String(opts.day ?? 1).padStart(2, '0');
    for (let i = 0; i < count; i++) {
      const start = new Date(Date.UTC(y, m - 1 + i, 1)).toISOString().slice(0, 8) + day;
      const end = new Date(Date.UTC(y, m + i, 1)).toISOString().slice(0, 8) + day;
      this.invoice(subscription, opts.status?.(i) ?? 'paid', start, [
        { price, amount, start, end, quantity: opts.quantity ?? 1, discount: opts.discount?.(i) ?? 0 },
      ], opts.currency ?? 'usd');
    }
    return this;
  }

  build(): CustomerHistory {
    return {
      customer: { id: this.id, currency: 'usd', deleted: false },
      subscriptions: this.subscriptions,
      items: this.items,
      invoices: this.invoices,
      lines: this.lines,
      prices: [...this.prices.values()],
    };
  }
}
