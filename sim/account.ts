import Stripe from 'stripe';
import { priceCharge } from './billing';
import { buildCatalog, buildCoupon, decimal, INTERVALS, TIERS, type BillingInterval, type Catalog, type Currency, type Tier, planOf } from './catalog';
import { stripeJson } from './embedded-lists';
import { Agenda } from './heap';
import {
  buildCharge,
  buildCustomer,
  buildDiscount,
  buildEvent,
  buildInvoice,
  buildLine,
  buildPaymentIntent,
  buildRefund,
  buildSubscription,
  buildSubscriptionItem,
  noCancellation,
  type Decline,
  type EventOf,
  type EventType,
} from './objects';
import { Rng } from './random';
import { Collection } from './store';
import { addInterval, addMonths, DAY, dayOfMonth, HOUR } from './time';

/** The API version the simulator renders objects in: the one the installed stripe-node speaks. */
export const API_VERSION: string = Stripe.API_VERSION;

/** Stripe keeps events for 30 days; the list endpoint shows no older ones. */
export const EVENT_RETENTION_DAYS = 30;

/** Days after a failed charge at which Stripe retries it (Smart Retries-like). */
export const RETRY_DELAYS_DAYS = [3, 5, 7] as const;

export interface GenerateOptions {
  seed: number | string;
  /** Customers signed up over the history (churned ones included). */
  customers: number;
  /** Months of history before `now`. */
  months: number;
  /** Simulated "now", Unix seconds; defaults to the wall clock. */
  now?: number;
  /** Connect-style account id; derived from the seed by default. */
  accountId?: string;
  /** Display name of the business. */
  name?: string;
  /** A connected account: its events carry `account`, as Connect webhooks do. */
  connected?: boolean;
  /**
   * Where hosted invoice pages live (the simulator serves them, so a dunning email's
   * "pay now" link works in the demo). Default: Stripe-like invoice.stripe.com URLs.
   */
  hostedInvoiceBase?: string;
}

/** The reasons a refund can be created with (Stripe sets `expired_uncaptured_charge` itself). */
export const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;
export type RefundReason = (typeof REFUND_REASONS)[number];
export const isRefundReason = (v: string): v is RefundReason => (REFUND_REASONS as readonly string[]).includes(v);

type TaskKind = 'signup' | 'period_end' | 'retry' | 'change' | 'undo_cancel' | 'refund' | 'resubscribe' | 'trial_will_end';

interface Task {
  at: number;
  seq: number;
  kind: TaskKind;
  sub?: SubState;
  customer?: Stripe.Customer;
  /** The period the task was planned in: stale tasks (plan changed, canceled) are dropped. */
  periodEnd?: number;
  charge?: Stripe.Charge;
  invoice?: Stripe.Invoice;
}

/** A discount a subscription runs with, and how many more invoices it takes off (a once-only coupon: one). */
interface RunningDiscount {
  d: Stripe.Discount;
  coupon: Stripe.Coupon;
  invoicesLeft: number | null;
  /** The item it discounts alone; null for the whole subscription. */
  item: Stripe.SubscriptionItem | null;
}

type ChangeKind = 'upgrade' | 'downgrade' | 'seats_up' | 'seats_down' | 'cancel_at_period_end' | 'cancel_now';

interface SubState {
  sub: Stripe.Subscription;
  customer: Stripe.Customer;
  currency: Currency;
  tier: Tier;
  interval: BillingInterval;
  seats: number;
  base: Stripe.SubscriptionItem;
  metered: Stripe.SubscriptionItem | null;
  anchorDay: number;
  periodStart: number;
  periodEnd: number;
  /**
   * Its discounts, the subscription's and its items' own (`item`), in the order they
   * were applied: Stripe takes an item's own off its line before the subscription's.
   */
  discounts: RunningDiscount[];
  pending: { tier: Tier; seats: number } | null;
  /** Invoices in dunning, by id, with their failed attempts so far. */
  open: Map<string, { invoice: Stripe.Invoice; failures: number }>;
  /** Chance that a charge of this customer is declined (some customers are riskier). */
  declineRate: number;
  trialConverts: boolean;
}

/** What happened over the account's life, counted as it happens (used by tests and docs). */
export interface LifecycleCounts {
  signups: number;
  trials: number;
  trialConversions: number;
  trialCancellations: number;
  upgrades: number;
  downgrades: number;
  seatChanges: number;
  failedPayments: number;
  recoveries: number;
  dunningExhausted: number;
  refunds: number;
  cancelAtPeriodEnd: number;
  cancelImmediately: number;
  reactivations: number;
  resubscriptions: number;
  couponsApplied: number;
  meteredLines: number;
  prorationLines: number;
}

const FIRST_NAMES = ['Acme', 'Blue', 'Bright', 'Cobalt', 'Delta', 'Echo', 'Fern', 'Granite', 'Harbor', 'Iris', 'Juniper', 'Kite', 'Lumen', 'Maple', 'Nimbus', 'Onyx', 'Pine', 'Quartz', 'River', 'Summit', 'Tidal', 'Umber', 'Vale', 'Willow', 'Zephyr'];
const SECOND_NAMES = ['Analytics', 'Labs', 'Works', 'Cloud', 'Health', 'Logistics', 'Studio', 'Systems', 'Foods', 'Finance', 'Robotics', 'Media', 'Energy', 'Learning', 'Security', 'Commerce'];
const COUNTRIES: Record<Currency, readonly string[]> = { usd: ['US', 'US', 'US', 'CA'], eur: ['DE', 'FR', 'NL', 'ES', 'IE'], gbp: ['GB'] };
const DECLINES: readonly Decline[] = [
  { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' },
  { code: 'expired_card', declineCode: 'expired_card', message: 'Your card has expired.' },
  { code: 'card_declined', declineCode: 'do_not_honor', message: 'Your card was declined.' },
];

/**
 * One simulated Stripe account: its catalog, customers and their billing history,
 * and an agenda of what each subscription does next. `runUntil` plays the agenda
 * forward, so generating history and advancing time later are the same code.
 */
export class SimAccount {
  readonly id: string;
  readonly name: string;
  readonly country = 'US';
  now: number;
  readonly catalog: Catalog;

  readonly products = new Collection<Stripe.Product>();
  readonly prices = new Collection<Stripe.Price>({ product: (p) => (typeof p.product === 'string' ? p.product : p.product.id) });
  readonly coupons = new Collection<Stripe.Coupon>();
  readonly customers = new Collection<Stripe.Customer>({ email: (c) => c.email });
  readonly subscriptions = new Collection<Stripe.Subscription>({ customer: (s) => customerId(s.customer) });
  readonly invoices = new Collection<Stripe.Invoice>({ customer: (i) => customerId(i.customer), subscription: (i) => i.parent?.subscription_details?.subscription as string | undefined });
  readonly charges = new Collection<Stripe.Charge>({ customer: (c) => customerId(c.customer), payment_intent: (c) => c.payment_intent as string | null });
  readonly refunds = new Collection<Stripe.Refund>({ charge: (r) => r.charge as string | null, payment_intent: (r) => r.payment_intent as string | null });
  readonly paymentIntents = new Collection<Stripe.PaymentIntent>({ customer: (p) => customerId(p.customer) });
  readonly events = new Collection<Stripe.Event>({ type: (e) => e.type });
  readonly subscriptionItems = new Map<string, Stripe.SubscriptionItem>();
  readonly discounts = new Map<string, Stripe.Discount>();
  /** Invoice id -> its payment intent (the invoice object no longer links it in this API version). */
  readonly invoicePayment = new Map<string, Stripe.PaymentIntent>();

  readonly counts: LifecycleCounts = {
    signups: 0, trials: 0, trialConversions: 0, trialCancellations: 0, upgrades: 0, downgrades: 0, seatChanges: 0,
    failedPayments: 0, recoveries: 0, dunningExhausted: 0, refunds: 0, cancelAtPeriodEnd: 0, cancelImmediately: 0,
    reactivations: 0, resubscriptions: 0, couponsApplied: 0, meteredLines: 0, prorationLines: 0,
  };

  /** Set by the server while an API request runs, so the events it causes name it. */
  request: { id: string; idempotency_key: string | null } | null = null;

  /** Called for every event recorded (webhook delivery hooks in here). */
  onEvent: ((event: Stripe.Event) => void) | null = null;

  private readonly rng: Rng;
  private readonly idRng: Rng;
  private readonly agenda = new Agenda<Task>();
  private seq = 0;
  private readonly subs = new Map<string, SubState>();
  private eventsFrom: number;
  private readonly historyEnd: number;
  private readonly connected: boolean;
  private readonly hostedInvoiceBase: string | null;
  /** Hosted invoice page token -> invoice id. */
  readonly hostedInvoices = new Map<string, string>();
  private signupTimes: number[] = [];
  private signupIndex = 0;
  /** Signups per second once the generated history has been played. */
  private readonly liveSignupRate: number;

  constructor(opts: GenerateOptions) {
    if (!Number.isInteger(opts.customers) || opts.customers < 0) throw new Error('customers must be a non-negative integer');
    if (!(opts.months > 0)) throw new Error('months must be positive');
    const root = new Rng(opts.seed);
    this.idRng = root.fork('ids');
    this.rng = root.fork('life');
    const end = opts.now ?? Math.floor(Date.now() / 1000);
    const start = addMonths(end, -Math.ceil(opts.months));
    this.id = opts.accountId ?? `acct_1${this.idRng.token(15)}`;
    this.name = opts.name ?? `${this.rng.pick(FIRST_NAMES)} ${this.rng.pick(SECOND_NAMES)} (simulated)`;
    this.now = start;
    this.eventsFrom = end - EVENT_RETENTION_DAYS * DAY;
    this.historyEnd = end;
    this.connected = opts.connected ?? false;
    this.hostedInvoiceBase = opts.hostedInvoiceBase ?? null;

    this.catalog = buildCatalog(start, (prefix, len) => this.newId(prefix, len ?? 14));
    for (const p of this.catalog.products) this.products.add(p);
    for (const p of this.catalog.prices) this.prices.add(p);
    for (const c of this.catalog.coupons) this.coupons.add(c);

    // Signups grow over the history: density proportional to e^(g x) on [0, 1).
    const g = Math.log(3);
    const span = end - start - DAY;
    for (let i = 0; i < opts.customers; i++) {
      const x = Math.log(1 + this.rng.next() * (Math.exp(g) - 1)) / g;
      this.signupTimes.push(start + DAY + Math.floor(x * span));
    }
    this.signupTimes.sort((a, b) => a - b);
    this.liveSignupRate = opts.customers === 0 ? 0 : (opts.customers * g * Math.exp(g)) / ((Math.exp(g) - 1) * span);
    this.scheduleNextSignup();
    this.runUntil(end);
  }

  // ---- time ----------------------------------------------------------------

  /** Plays every scheduled action up to `t` (Unix seconds) and moves the clock there. */
  runUntil(t: number): void {
    for (;;) {
      const next = this.agenda.peek();
      if (!next || next.at > t) break;
      this.agenda.pop();
      this.now = Math.max(this.now, next.at);
      this.handle(next);
    }
    this.now = Math.max(this.now, t);
  }

  advance(seconds: number): void {
    // From here on every event is kept: retention applies to generated history only.
    this.eventsFrom = Math.min(this.eventsFrom, this.now);
    this.runUntil(this.now + Math.max(0, Math.floor(seconds)));
  }

  private schedule(task: Omit<Task, 'seq'>): void {
    this.agenda.push({ ...task, seq: this.seq++ });
  }

  private handle(task: Task): void {
    switch (task.kind) {
      case 'signup':
        this.signup(null);
        this.scheduleNextSignup();
        return;
      case 'resubscribe':
        if (task.customer) this.signup(task.customer);
        return;
      case 'period_end':
        if (task.sub && this.current(task)) this.periodEnd(task.sub);
        return;
      case 'trial_will_end':
        if (task.sub && this.current(task) && task.sub.sub.status === 'trialing') this.emit('customer.subscription.trial_will_end', task.sub.sub);
        return;
      case 'retry':
        if (task.sub && task.invoice && task.sub.open.has(task.invoice.id) && task.sub.sub.status !== 'canceled') this.attemptPayment(task.sub, task.invoice, true);
        return;
      case 'change':
        if (task.sub && this.current(task) && (task.sub.sub.status === 'active' || task.sub.sub.status === 'past_due')) this.change(task.sub);
        return;
      case 'undo_cancel':
        if (task.sub && this.current(task) && task.sub.sub.cancel_at_period_end) this.undoCancel(task.sub);
        return;
      case 'refund':
        if (task.charge) this.refund(task.charge);
        return;
    }
  }

  private current(task: Task): boolean {
    return task.sub !== undefined && task.sub.sub.status !== 'canceled' && task.sub.periodEnd === task.periodEnd;
  }

  private scheduleNextSignup(): void {
    if (this.signupIndex < this.signupTimes.length) {
      this.schedule({ at: this.signupTimes[this.signupIndex++] as number, kind: 'signup' });
    } else if (this.liveSignupRate > 0) {
      // The live stream starts where the generated history ends.
      const from = Math.max(this.now, this.historyEnd);
      this.schedule({ at: from + Math.max(1, Math.round(this.rng.exp(1 / this.liveSignupRate))), kind: 'signup' });
    }
  }

  // ---- ids and events --------------------------------------------------------

  newId(prefix: string, len = 24): string {
    const sep = prefix.endsWith('_') || /_\d$/.test(prefix) ? '' : '_';
    return `${prefix}${sep}${this.idRng.token(len)}`;
  }

  emit<T extends EventType>(type: T, object: EventOf<T>['data']['object'], previous?: EventOf<T>['data']['previous_attributes']): void {
    if (this.now < this.eventsFrom) return;
    // Events carry a snapshot: later changes to the object must not show in old events;
    // and its embedded lists cut, as Stripe's payloads are.
    const snapshot = JSON.parse(stripeJson(object)) as EventOf<T>['data']['object'];
    const event = buildEvent({ id: this.newId('evt_1'), type, created: this.now, apiVersion: API_VERSION, object: snapshot, previous, request: this.request, ...(this.connected ? { account: this.id } : {}) });
    this.events.add(event);
    this.onEvent?.(event);
  }

  // ---- lifecycle ------------------------------------------------------------

  private signup(existing: Stripe.Customer | null): void {
    const rng = this.rng;
    let customer = existing;
    let currency: Currency;
    if (customer) {
      currency = (customer.currency ?? 'usd') as Currency;
      this.counts.resubscriptions++;
    } else {
      currency = rng.weighted<Currency>([['usd', 60], ['eur', 25], ['gbp', 15]]);
      const n = this.customers.size + 1;
      const company = `${rng.pick(FIRST_NAMES)} ${rng.pick(SECOND_NAMES)}`;
      const slug = company.toLowerCase().replace(/[^a-z]+/g, '-');
      customer = buildCustomer({
        id: this.newId('cus', 14),
        created: this.now,
        name: company,
        email: `billing+${n}@${slug}.example`,
        currency,
        invoicePrefix: this.idRng.token(8).toUpperCase(),
        country: rng.pick(COUNTRIES[currency]),
        metadata: { company_size: rng.pick(['1-10', '11-50', '51-200', '201-1000']), signup_source: rng.pick(['organic', 'paid_search', 'referral', 'partner']) },
      });
      this.customers.add(customer);
      this.counts.signups++;
      this.emit('customer.created', customer);
    }

    const tier = TIERS[rng.weighted<number>([[0, 40], [1, 32], [2, 20], [3, 8]])] as Tier;
    const interval = rng.weighted<BillingInterval>([['monthly', 62], ['quarterly', 13], ['annual', 25]]);
    const seats = tier.perSeat ? rng.int(3, tier.order === 4 ? 80 : 25) : 1;
    const trial = rng.chance(0.35);
    const paymentMethod = this.newId('pm_1');
    const subId = this.newId('sub_1');
    const periodStart = this.now;
    const periodEnd = trial ? this.now + 14 * DAY : addInterval(this.now, INTERVALS[interval].interval, INTERVALS[interval].count);
    const price = this.catalog.planPrice(tier, interval, currency);
    const base = buildSubscriptionItem({ id: this.newId('si', 14), created: this.now, subscription: subId, price, plan: planOf(price), quantity: seats, periodStart, periodEnd });
    const items = [base];
    let metered: Stripe.SubscriptionItem | null = null;
    if (interval === 'monthly' && tier.order >= 2 && rng.chance(0.4)) {
      const mp = this.catalog.meteredPrice(currency);
      metered = buildSubscriptionItem({ id: this.newId('si', 14), created: this.now, subscription: subId, price: mp, plan: planOf(mp), quantity: undefined, periodStart, periodEnd });
      items.push(metered);
    }
    for (const item of items) this.subscriptionItems.set(item.id, item);
    const sub = buildSubscription({
      id: subId,
      created: this.now,
      customer: customer.id,
      currency,
      paymentMethod,
      items,
      status: trial ? 'trialing' : 'active',
      trialStart: trial ? this.now : null,
      trialEnd: trial ? periodEnd : null,
      metadata: { plan: tier.key, interval },
    });
    this.subscriptions.add(sub);
    const state: SubState = {
      sub,
      customer,
      currency,
      tier,
      interval,
      seats,
      base,
      metered,
      anchorDay: dayOfMonth(periodEnd),
      periodStart,
      periodEnd,
      discounts: [],
      pending: null,
      open: new Map(),
      declineRate: rng.weighted<number>([[0.02, 70], [0.08, 22], [0.3, 8]]),
      trialConverts: rng.chance(0.72),
    };
    this.subs.set(sub.id, state);

    if (rng.chance(0.25)) this.applyCoupon(state);
    if (trial) this.counts.trials++;
    this.emit('customer.subscription.created', sub);

    // The first invoice: zero for a trial, the first period otherwise.
    const invoice = this.createInvoice(state, 'subscription_create', [
      this.planLine(state, trial ? 0 : undefined, periodStart, periodEnd, trial ? `Trial period for ${tier.name}` : undefined),
    ], this.now, this.now);
    this.attemptPayment(state, invoice, false);
    if (trial) this.schedule({ at: periodEnd - 3 * DAY, kind: 'trial_will_end', sub: state, periodEnd });
    this.planPeriod(state);
  }

  private applyCoupon(state: SubState): void {
    const usable = this.catalog.coupons.filter((c) => c.currency === null || c.currency === state.currency);
    this.attachDiscount(state, this.rng.pick(usable), null);
  }

  /** Redeems a coupon into a discount of the subscription, or of one of its items, listed after those it has. */
  private attachDiscount(state: SubState, coupon: Stripe.Coupon, item: Stripe.SubscriptionItem | null): Stripe.Discount {
    const end = coupon.duration === 'repeating' ? addMonths(this.now, coupon.duration_in_months ?? 1) : null;
    const d = buildDiscount({ id: this.newId('di_1'), start: this.now, end, customer: state.customer.id, subscription: state.sub.id, subscriptionItem: item?.id ?? null, coupon: coupon.id });
    coupon.times_redeemed++;
    this.discounts.set(d.id, d);
    state.discounts.push({ d, coupon, invoicesLeft: coupon.duration === 'once' ? 1 : null, item });
    if (item) item.discounts = [...item.discounts, d.id];
    else state.sub.discounts = [...state.sub.discounts, d.id];
    this.counts.couponsApplied++;
    return d;
  }

  // ---- what a test sets up, as the Dashboard or the API would ------------------

  /** Creates a coupon (as `POST /v1/coupons` does), e.g. one restricted to products (`appliesTo`), which the generated catalog has none of. */
  createCoupon(c: Omit<Parameters<typeof buildCoupon>[0], 'created'>): Stripe.Coupon {
    if (this.coupons.get(c.id)) throw new Error(`coupon ${c.id} exists already`);
    const coupon = buildCoupon({ ...c, created: this.now });
    this.coupons.add(coupon);
    return coupon;
  }

  /**
   * Applies a coupon to a subscription, or to one of its items (`item`), as a
   * subscription update's `discounts` does: a new discount, listed after those there and
   * billed from the next invoice on, told in a `customer.subscription.updated` event.
   * Stripe refuses an amount coupon in another currency; so does this.
   */
  addDiscount(subscriptionId: string, couponId: string, opts: { item?: string } = {}): Stripe.Discount {
    const state = this.subs.get(subscriptionId);
    if (!state) throw new Error(`no subscription ${subscriptionId}`);
    const coupon = this.coupons.get(couponId);
    if (!coupon) throw new Error(`no coupon ${couponId}`);
    if (coupon.amount_off !== null && coupon.currency !== state.currency) throw new Error(`coupon ${couponId} is in ${coupon.currency}, the subscription in ${state.currency}`);
    const sub = state.sub;
    const item = opts.item === undefined ? null : (sub.items.data.find((i) => i.id === opts.item) ?? null);
    if (opts.item !== undefined && !item) throw new Error(`subscription ${subscriptionId} has no item ${opts.item}`);
    const previous = item ? { items: { ...sub.items, data: sub.items.data.map((i) => ({ ...i, discounts: [...i.discounts] })) } } : { discounts: [...sub.discounts] };
    const d = this.attachDiscount(state, coupon, item);
    this.emit('customer.subscription.updated', sub, previous);
    return d;
  }

  /** Schedules the end of the current period and maybe one action inside it. */
  private planPeriod(state: SubState): void {
    const { periodStart, periodEnd } = state;
    this.schedule({ at: periodEnd, kind: 'period_end', sub: state, periodEnd });
    if (state.sub.status === 'trialing') return;
    const months = Math.max(1, Math.round((periodEnd - periodStart) / (30 * DAY)));
    const p = 1 - Math.pow(1 - 0.07, months);
    if (!this.rng.chance(p)) return;
    const at = periodStart + Math.floor(this.rng.next() * (periodEnd - periodStart - HOUR)) + 1;
    this.schedule({ at, kind: 'change', sub: state, periodEnd });
  }

  private periodEnd(state: SubState): void {
    const sub = state.sub;
    if (sub.cancel_at_period_end) {
      this.endSubscription(state, 'cancellation_requested');
      return;
    }
    const before = { status: sub.status };
    if (sub.status === 'trialing') {
      if (!state.trialConverts) {
        this.counts.trialCancellations++;
        this.endSubscription(state, 'cancellation_requested');
        return;
      }
      this.counts.trialConversions++;
      sub.status = 'active';
    }
    if (state.pending) {
      this.swapPlan(state, state.pending.tier, state.pending.seats);
      state.pending = null;
    }
    const previousStart = state.periodStart;
    state.periodStart = state.periodEnd;
    state.periodEnd = addInterval(state.periodStart, INTERVALS[state.interval].interval, INTERVALS[state.interval].count, state.anchorDay);
    for (const item of sub.items.data) {
      item.current_period_start = state.periodStart;
      item.current_period_end = state.periodEnd;
    }
    this.emit('customer.subscription.updated', sub, before.status !== sub.status ? { status: before.status } : {});
    const lines = [this.planLine(state, undefined, state.periodStart, state.periodEnd)];
    if (state.metered && previousStart < state.periodStart && before.status !== 'trialing') {
      lines.push(this.meteredLine(state, previousStart, state.periodStart));
    }
    const invoice = this.createInvoice(state, 'subscription_cycle', lines, previousStart, state.periodStart);
    this.attemptPayment(state, invoice, false);
    if (sub.status !== 'canceled') this.planPeriod(state);
  }

  private change(state: SubState): void {
    const rng = this.rng;
    const up = TIERS.find((t) => t.order === state.tier.order + 1);
    const down = TIERS.find((t) => t.order === state.tier.order - 1);
    const options: Array<readonly [ChangeKind, number]> = [
      ['cancel_at_period_end', 30],
      ['cancel_now', 10],
    ];
    if (up) options.push(['upgrade', 22]);
    if (down) options.push(['downgrade', 12]);
    if (state.tier.perSeat) options.push(['seats_up', 18], ['seats_down', 8]);
    const kind = rng.weighted(options);
    const sub = state.sub;
    switch (kind) {
      case 'upgrade': {
        if (!up) return;
        const seats = up.perSeat ? Math.max(state.seats, rng.int(5, 20)) : 1;
        this.counts.upgrades++;
        this.prorate(state, up, seats);
        return;
      }
      case 'seats_up': {
        this.counts.seatChanges++;
        this.prorate(state, state.tier, state.seats + rng.int(1, 10));
        return;
      }
      case 'downgrade':
      case 'seats_down': {
        // Decreases take effect at renewal, so nobody is credited mid-period.
        const tier = kind === 'downgrade' && down ? down : state.tier;
        const seats = tier.perSeat ? Math.max(1, (kind === 'seats_down' ? state.seats : rng.int(3, 12)) - rng.int(1, 3)) : 1;
        if (kind === 'downgrade') this.counts.downgrades++;
        else this.counts.seatChanges++;
        state.pending = { tier, seats };
        const previous = { metadata: { ...sub.metadata } };
        sub.metadata = { ...sub.metadata, pending_change: `${tier.key}:${seats}` };
        this.emit('customer.subscription.updated', sub, previous);
        return;
      }
      case 'cancel_at_period_end': {
        this.counts.cancelAtPeriodEnd++;
        sub.cancel_at_period_end = true;
        sub.cancel_at = state.periodEnd;
        sub.canceled_at = this.now;
        sub.cancellation_details = { comment: null, feedback: rng.pick(['too_expensive', 'missing_features', 'switched_service', 'unused', 'other'] as const), feedback_option: null, reason: 'cancellation_requested' };
        this.emit('customer.subscription.updated', sub, { cancel_at_period_end: false, cancel_at: null, canceled_at: null });
        if (rng.chance(0.25)) {
          this.schedule({ at: this.now + Math.floor(rng.next() * (state.periodEnd - this.now - 1)), kind: 'undo_cancel', sub: state, periodEnd: state.periodEnd });
        }
        return;
      }
      case 'cancel_now': {
        this.counts.cancelImmediately++;
        // A goodwill refund of the unused part of the last payment, sometimes.
        const lastCharge = this.lastPaidCharge(state);
        this.endSubscription(state, 'cancellation_requested');
        if (lastCharge && rng.chance(0.3)) this.schedule({ at: this.now + HOUR, kind: 'refund', charge: lastCharge });
        return;
      }
    }
  }

  private undoCancel(state: SubState): void {
    const sub = state.sub;
    this.counts.reactivations++;
    const previous = { cancel_at_period_end: true, cancel_at: sub.cancel_at, canceled_at: sub.canceled_at };
    sub.cancel_at_period_end = false;
    sub.cancel_at = null;
    sub.canceled_at = null;
    sub.cancellation_details = noCancellation();
    this.emit('customer.subscription.updated', sub, previous);
  }

  private endSubscription(state: SubState, reason: Stripe.Subscription.CancellationDetails.Reason): void {
    const sub = state.sub;
    sub.status = 'canceled';
    sub.ended_at = this.now;
    sub.canceled_at = sub.canceled_at ?? this.now;
    sub.cancel_at_period_end = false;
    sub.cancellation_details = { ...(sub.cancellation_details ?? noCancellation()), reason };
    for (const item of sub.items.data) item.current_period_end = Math.min(item.current_period_end, this.now);
    // Stripe stops retrying once the subscription is gone; the invoices stay open.
    for (const { invoice } of state.open.values()) invoice.next_payment_attempt = null;
    state.open.clear();
    this.emit('customer.subscription.deleted', sub);
    // Some churned customers come back months later with a new subscription.
    if (this.rng.chance(0.12)) {
      this.schedule({ at: this.now + this.rng.int(30, 200) * DAY, kind: 'resubscribe', customer: state.customer });
    }
  }

  /** Immediate plan or seat increase: credit the unused time, charge the remainder. */
  private prorate(state: SubState, tier: Tier, seats: number): void {
    const fraction = (state.periodEnd - this.now) / (state.periodEnd - state.periodStart);
    const oldPrice = state.base.price;
    const oldQty = state.seats;
    const oldAmount = Math.round(priceCharge(oldPrice, oldQty).amount * fraction);
    this.swapPlan(state, tier, seats);
    const newPrice = state.base.price;
    const newAmount = Math.round(priceCharge(newPrice, seats).amount * fraction);
    const date = new Date(this.now * 1000).toISOString().slice(0, 10);
    const lines = [
      this.rawLine(state, oldPrice, oldQty, -oldAmount, `Unused time on ${oldQty} × ${productName(this, oldPrice)} after ${date}`, true, this.now, state.periodEnd),
      this.rawLine(state, newPrice, seats, newAmount, `Remaining time on ${seats} × ${productName(this, newPrice)} after ${date}`, true, this.now, state.periodEnd),
    ];
    this.counts.prorationLines += 2;
    const invoice = this.createInvoice(state, 'subscription_update', lines, this.now, this.now);
    this.attemptPayment(state, invoice, false);
  }

  private swapPlan(state: SubState, tier: Tier, seats: number): void {
    const sub = state.sub;
    const previous = { items: { ...sub.items, data: sub.items.data.map((i) => ({ ...i })) } };
    const price = this.catalog.planPrice(tier, state.interval, state.currency);
    state.base.price = price;
    state.base.plan = planOf(price);
    state.base.quantity = seats;
    state.tier = tier;
    state.seats = seats;
    const { pending_change: _dropped, ...rest } = sub.metadata;
    sub.metadata = { ...rest, plan: tier.key };
    this.emit('customer.subscription.updated', sub, previous);
  }

  // ---- invoices and payments -------------------------------------------------

  private planLine(state: SubState, amountOverride: number | undefined, start: number, end: number, description?: string): Stripe.InvoiceLineItem {
    const price = state.base.price;
    const charge = priceCharge(price, state.seats);
    const amount = amountOverride ?? charge.amount;
    return this.rawLine(state, price, state.seats, amount, description ?? `${state.seats} × ${productName(this, price)} (at ${money(charge.unitAmount, state.currency)} / ${INTERVALS[state.interval].count === 1 ? INTERVALS[state.interval].interval : `${INTERVALS[state.interval].count} months`})`, false, start, end);
  }

  private meteredLine(state: SubState, start: number, end: number): Stripe.InvoiceLineItem {
    const item = state.metered as Stripe.SubscriptionItem;
    // Thousands of API calls above the plan limit in the period.
    const units = this.rng.chance(0.4) ? 0 : this.rng.int(1, 400);
    this.counts.meteredLines++;
    return this.rawLine(state, item.price, units, priceCharge(item.price, units).amount, `API overage: ${units} × 1,000 calls`, false, start, end, item.id);
  }

  private rawLine(state: SubState, price: Stripe.Price, quantity: number, amount: number, description: string, proration: boolean, start: number, end: number, itemId?: string): Stripe.InvoiceLineItem {
    return buildLine({
      id: this.newId('il_1'),
      invoice: '',
      currency: state.currency,
      amount,
      description,
      discount: null,
      subscription: state.sub.id,
      subscriptionItem: itemId ?? state.base.id,
      price,
      // What each unit is billed at: a tiered price's is its tier's.
      unitAmount: priceCharge(price, quantity).unitAmount,
      quantity,
      proration,
      periodStart: start,
      periodEnd: end,
    });
  }

  private createInvoice(state: SubState, reason: Stripe.Invoice.BillingReason, lines: Stripe.InvoiceLineItem[], periodStart: number, periodEnd: number): Stripe.Invoice {
    const id = this.newId('in_1');
    // A repeating coupon past its end is gone.
    for (const r of [...state.discounts]) if (r.d.end !== null && this.now >= r.d.end) this.dropDiscount(state, r);
    const running = [...state.discounts];
    this.takeDiscounts(running, lines);
    const discountIds = running.filter((r) => r.item === null).map((r) => r.d.id);
    for (const r of running) {
      if (r.invoicesLeft !== null && reason !== 'subscription_update' && lines.some((l) => l.amount > 0)) {
        r.invoicesLeft--;
        if (r.invoicesLeft <= 0) this.dropDiscount(state, r);
      }
    }
    for (const line of lines) line.invoice = id;
    const customer = state.customer;
    const seq = customer.next_invoice_sequence ?? 1;
    customer.next_invoice_sequence = seq + 1;
    const token = this.idRng.token(40);
    const invoice = buildInvoice({
      id,
      created: this.now,
      accountCountry: this.country,
      accountName: this.name,
      customer,
      subscription: state.sub.id,
      currency: state.currency,
      billingReason: reason,
      lines,
      discountIds,
      number: `${customer.invoice_prefix}-${String(seq).padStart(4, '0')}`,
      hostedUrl: this.hostedInvoiceBase ? `${this.hostedInvoiceBase}/${this.id}/test_${token}` : `https://invoice.stripe.com/i/${this.id}/test_${token}`,
      pdfUrl: `https://pay.stripe.com/invoice/${this.id}/test_${token}/pdf`,
      periodStart,
      periodEnd,
      paymentMethod: state.sub.default_payment_method as string,
    });
    this.invoices.add(invoice);
    this.hostedInvoices.set(`test_${token}`, invoice.id);
    state.sub.latest_invoice = invoice.id;
    this.emit('invoice.created', invoice);
    this.emit('invoice.finalized', invoice);
    return invoice;
  }

  /**
   * Sets each line's `discount_amounts` (and an item's own discounts as the line's
   * `discounts`): its item's own discounts first, then the subscription's ("subscription
   * item discounts are applied before subscription discounts"), each on what the ones
   * before left, and a coupon restricted to products only on lines of those. A percent
   * coupon takes its share of each line, rounded; an amount coupon its amount across the
   * invoice's lines, from the first, while lines have something left to take.
   */
  private takeDiscounts(running: readonly RunningDiscount[], lines: Stripe.InvoiceLineItem[]): void {
    const amountLeft = new Map(running.map((r) => [r, r.coupon.amount_off ?? 0]));
    for (const line of lines) {
      const itemId = line.parent?.subscription_item_details?.subscription_item ?? null;
      const product = line.pricing?.price_details?.product ?? null;
      const own = running.filter((r) => r.item !== null && r.item.id === itemId);
      if (own.length > 0) line.discounts = own.map((r) => r.d.id);
      let left = line.amount;
      for (const r of [...own, ...running.filter((x) => x.item === null)]) {
        const products = r.coupon.applies_to?.products;
        if (products && (product === null || !products.includes(product))) continue;
        let off = 0;
        if (r.coupon.percent_off !== null) off = Math.round((left * r.coupon.percent_off) / 100);
        else if (left > 0) {
          off = Math.min(amountLeft.get(r)!, left);
          amountLeft.set(r, amountLeft.get(r)! - off);
        }
        if (off === 0) continue;
        line.discount_amounts = [...(line.discount_amounts ?? []), { amount: off, discount: r.d.id }];
        left -= off;
      }
    }
  }

  private dropDiscount(state: SubState, r: RunningDiscount): void {
    r.d.end = r.d.end ?? this.now;
    state.discounts = state.discounts.filter((x) => x !== r);
    if (r.item) r.item.discounts = r.item.discounts.filter((d) => d !== r.d.id);
    else state.sub.discounts = state.sub.discounts.filter((d) => d !== r.d.id);
  }

  /** Charges an open invoice; on decline, schedules Stripe-style retries. */
  attemptPayment(state: SubState, invoice: Stripe.Invoice, retry: boolean, newCard = false): void {
    if (invoice.status !== 'open') return;
    if (invoice.amount_due <= 0) {
      this.markPaid(state, invoice, 'nothing_due');
      return;
    }
    let pi = this.invoicePayment.get(invoice.id);
    if (!pi) {
      pi = buildPaymentIntent({
        id: this.newId('pi_3'),
        secret: this.idRng.token(25),
        created: this.now,
        amount: invoice.amount_due,
        currency: invoice.currency,
        customer: state.customer.id,
        description: invoice.billing_reason === 'subscription_create' ? 'Subscription creation' : invoice.billing_reason === 'subscription_update' ? 'Subscription update' : 'Subscription cycle',
        paymentMethod: state.sub.default_payment_method as string,
      });
      this.paymentIntents.add(pi);
      this.invoicePayment.set(invoice.id, pi);
    }
    // Retries succeed about half the time: that is what recoveries look like.
    // A card entered on the hosted page goes through.
    const declined = newCard ? false : retry ? this.rng.chance(0.5) : this.rng.chance(state.declineRate);
    const decline = declined ? this.rng.pick(DECLINES) : null;
    const charge = buildCharge({
      id: this.newId('ch_3'),
      created: this.now,
      amount: invoice.amount_due,
      currency: invoice.currency,
      customer: state.customer,
      paymentIntent: pi.id,
      paymentMethod: pi.payment_method as string,
      description: pi.description ?? 'Subscription',
      decline,
      balanceTransaction: decline ? null : this.newId('txn_3'),
      receiptUrl: decline ? null : `https://pay.stripe.com/receipts/invoices/${this.idRng.token(40)}`,
    });
    this.charges.add(charge);
    pi.latest_charge = charge.id;
    invoice.attempted = true;
    invoice.attempt_count++;
    if (!decline) {
      this.emit('charge.succeeded', charge);
      if (retry || state.open.has(invoice.id)) this.counts.recoveries++;
      this.markPaid(state, invoice, { charge });
      pi.status = 'succeeded';
      pi.amount_received = pi.amount;
      pi.last_payment_error = null;
      this.emit('payment_intent.succeeded', pi);
      if (this.rng.chance(0.02)) this.schedule({ at: this.now + this.rng.int(1, 20) * DAY, kind: 'refund', charge });
      return;
    }
    this.counts.failedPayments++;
    pi.status = 'requires_payment_method';
    pi.last_payment_error = { type: 'card_error', code: decline.code, decline_code: decline.declineCode, message: decline.message, charge: charge.id };
    this.emit('charge.failed', charge);
    this.emit('payment_intent.payment_failed', pi);
    const failures = (state.open.get(invoice.id)?.failures ?? 0) + 1;
    state.open.set(invoice.id, { invoice, failures });
    state.customer.delinquent = true;
    const delay = RETRY_DELAYS_DAYS[failures - 1];
    invoice.next_payment_attempt = delay === undefined ? null : this.now + delay * DAY;
    this.emit('invoice.payment_failed', invoice);
    if (state.sub.status === 'active' || state.sub.status === 'trialing') {
      const previous = state.sub.status;
      state.sub.status = 'past_due';
      this.emit('customer.subscription.updated', state.sub, { status: previous });
    }
    if (delay !== undefined) {
      this.schedule({ at: invoice.next_payment_attempt as number, kind: 'retry', sub: state, invoice });
      return;
    }
    // Retries exhausted: the invoice is written off and the subscription ends.
    this.counts.dunningExhausted++;
    invoice.status = 'uncollectible';
    invoice.status_transitions.marked_uncollectible_at = this.now;
    state.open.delete(invoice.id);
    this.emit('invoice.marked_uncollectible', invoice);
    this.endSubscription(state, 'payment_failed');
  }

  /**
   * Settles an open invoice: by a charge, by nothing being due, or marked paid out of
   * band. Stripe sends `invoice.paid` for each, `invoice.payment_succeeded` only for a
   * payment attempt that succeeded: not for one marked paid out of band.
   */
  private markPaid(state: SubState, invoice: Stripe.Invoice, how: { charge: Stripe.Charge } | 'nothing_due' | 'out_of_band'): void {
    invoice.status = 'paid';
    invoice.amount_paid = invoice.amount_due;
    invoice.amount_remaining = 0;
    invoice.next_payment_attempt = null;
    invoice.status_transitions.paid_at = this.now;
    if (how === 'out_of_band') invoice.amount_paid_off_stripe = invoice.amount_due;
    this.emit('invoice.paid', invoice);
    if (how !== 'out_of_band') this.emit('invoice.payment_succeeded', invoice);
    state.open.delete(invoice.id);
    if (state.open.size === 0) state.customer.delinquent = false;
    if (state.sub.status === 'past_due' && state.open.size === 0) {
      state.sub.status = 'active';
      this.emit('customer.subscription.updated', state.sub, { status: 'past_due' });
    }
  }

  private lastPaidCharge(state: SubState): Stripe.Charge | null {
    const positions = this.charges.indexed('customer', state.customer.id) ?? [];
    for (let i = positions.length - 1; i >= 0; i--) {
      const c = this.charges.rows[positions[i] as number];
      if (c && c.status === 'succeeded' && !c.refunded) return c;
    }
    return null;
  }

  /** Refunds what `asked` says of the charge (checked by refundCharge), or else a random part the generator picks. */
  private refund(charge: Stripe.Charge, asked?: { amount: number; reason: RefundReason | null; metadata: Stripe.Metadata }): Stripe.Refund | null {
    const left = charge.amount - charge.amount_refunded;
    if (left <= 0 || charge.status !== 'succeeded') return null;
    const amount = asked ? asked.amount : this.rng.chance(0.6) ? left : Math.max(1, Math.round(left * this.rng.int(20, 80) / 100));
    const reason = asked ? asked.reason : this.rng.pick(['requested_by_customer', 'duplicate'] as const);
    const refund = buildRefund({ id: this.newId('re_3'), created: this.now, amount, charge, balanceTransaction: this.newId('txn_3'), reason, metadata: asked?.metadata ?? {} });
    this.refunds.add(refund);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded >= charge.amount;
    if (charge.refunds) {
      charge.refunds.data.unshift(refund);
    }
    this.counts.refunds++;
    this.emit('refund.created', refund);
    this.emit('charge.refunded', charge);
    return refund;
  }

  // ---- API-driven changes ----------------------------------------------------

  /**
   * Pays an open invoice: out of band (marked paid, no charge; POST /v1/invoices/:id/pay
   * with paid_out_of_band), with the default card (may be declined), or with a new
   * card on the hosted invoice page (goes through).
   */
  payInvoice(invoice: Stripe.Invoice, how: 'out_of_band' | 'default_card' | 'new_card'): void {
    const subId = invoice.parent?.subscription_details?.subscription;
    const state = typeof subId === 'string' ? this.subs.get(subId) : undefined;
    if (!state) throw new Error(`invoice ${invoice.id} has no simulated subscription`);
    if (how === 'out_of_band') {
      this.markPaid(state, invoice, 'out_of_band');
      return;
    }
    this.attemptPayment(state, invoice, true, how === 'new_card');
  }

  /**
   * A price change as made in Stripe's dashboard: a new price of the plan at
   * `unitAmount` takes over the old one's lookup key and every later signup and plan
   * change, and the old one is archived (`price.created`, `price.updated`).
   * Subscriptions on the old price keep billing on it (grandfathered), while price
   * lists leave it out unless asked for inactive prices. Per-unit prices only.
   */
  changePrice(priceId: string, unitAmount: number): Stripe.Price {
    const old = this.prices.get(priceId);
    if (!old || !old.active) throw new Error(`no active price ${priceId}`);
    if (old.billing_scheme !== 'per_unit') throw new Error(`price ${priceId} is not per unit`);
    const next: Stripe.Price = { ...structuredClone(old), id: this.newId('price_1', 24), created: this.now, unit_amount: unitAmount, unit_amount_decimal: decimal(unitAmount) };
    this.prices.add(next);
    this.emit('price.created', next);
    // Stripe refuses to archive a product's default price: the product moves to the new one first.
    const product = this.products.get(typeof old.product === 'string' ? old.product : old.product.id);
    if (product?.default_price === old.id) {
      product.default_price = next.id;
      product.updated = this.now;
      this.emit('product.updated', product, { default_price: old.id });
    }
    const lookupKey = old.lookup_key;
    old.active = false;
    old.lookup_key = null;
    this.catalog.replacePrice(old, next);
    // Items embed the legacy plan view of their price as a copy: it shows the archiving too.
    for (const item of this.subscriptionItems.values()) if (item.price.id === old.id) item.plan = planOf(old);
    this.emit('price.updated', old, lookupKey === null ? { active: true } : { active: true, lookup_key: lookupKey });
    return next;
  }

  /**
   * Refunds a succeeded charge now (POST /v1/refunds; `refund.created`,
   * `charge.refunded`): `amount` minor units (default: all that is left), with no
   * reason unless one is given, as Stripe does.
   * @throws RefundRefused, with Stripe's code and parameter, for a charge that cannot give it
   */
  refundCharge(chargeId: string, opts: { amount?: number | undefined; reason?: RefundReason | null; metadata?: Stripe.Metadata } = {}): Stripe.Refund {
    const charge = this.charges.get(chargeId);
    if (!charge) throw new RefundRefused(`No such charge: '${chargeId}'`, { code: 'resource_missing', param: 'charge' });
    if (charge.status !== 'succeeded') throw new RefundRefused(`Charge ${chargeId} has not succeeded: nothing to refund.`, { param: 'charge' });
    const left = charge.amount - charge.amount_refunded;
    if (left <= 0) throw new RefundRefused(`Charge ${chargeId} has already been refunded.`, { code: 'charge_already_refunded' });
    const amount = opts.amount ?? left;
    if (!Number.isInteger(amount) || amount < 1) throw new RefundRefused('This value must be greater than or equal to 1.', { param: 'amount' });
    if (amount > left) throw new RefundRefused(`Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`, { param: 'amount' });
    return this.refund(charge, { amount, reason: opts.reason ?? null, metadata: opts.metadata ?? {} })!;
  }
}

/** Why a charge cannot be refunded as asked, with what Stripe's error names (sim/api.ts answers it as a 400). */
export class RefundRefused extends Error {
  constructor(
    message: string,
    readonly details: { code?: string; param?: string },
  ) {
    super(message);
  }
}

function customerId(c: string | Stripe.Customer | Stripe.DeletedCustomer | null): string | null {
  if (c === null) return null;
  return typeof c === 'string' ? c : c.id;
}

function productName(account: SimAccount, price: Stripe.Price): string {
  const id = typeof price.product === 'string' ? price.product : price.product.id;
  return account.products.get(id)?.name ?? id;
}

function money(amount: number, currency: string): string {
  const symbol: Record<string, string> = { usd: '$', eur: '€', gbp: '£' };
  return `${symbol[currency] ?? ''}${(amount / 100).toFixed(2)}`;
}

