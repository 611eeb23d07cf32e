import type Stripe from 'stripe';
import { isRefundReason, REFUND_REASONS, RefundRefused, type SimAccount } from './account';
import { invalidRequest, missingParameter, resourceMissing, unknownParameter } from './errors';
import type { Form, FormValue } from './form';
import type { Access, Resource } from './keys';
import { buildInvoicePayment, buildPortalSession } from './objects';
import type { Collection, Stored } from './store';

/** What a route handler gets: the account acted on, the parsed parameters, and the server's address. */
export interface RouteContext {
  account: SimAccount;
  params: Form;
  ids: string[];
  baseUrl: string;
  /** The current account or one connected to it (for GET /v1/accounts/:id). */
  reachable: (id: string) => SimAccount | undefined;
  /** Counts list pages served (for stats). */
  onPage: () => void;
}

export interface Route {
  method: 'GET' | 'POST';
  /** Path template, e.g. `/v1/customers/:id` (also the key of per-path stats). */
  path?: string;
  pattern: RegExp;
  resource: Resource | null;
  access: Access;
  handle: (ctx: RouteContext) => unknown;
}

const PAGE = ['limit', 'starting_after', 'ending_before', 'expand', 'created'];

interface ListSpec<T extends Stored> {
  url: string;
  collection: (a: SimAccount) => Collection<T>;
  /** Allowed filters besides pagination; each returns candidate positions or a predicate. */
  filters?: Record<string, Filter<T>>;
  required?: string[];
  defaultMatch?: (obj: T, params: Form) => boolean;
}

type Filter<T extends Stored> =
  | { index: string }
  | { match: (obj: T, value: FormValue) => boolean };

function str(v: FormValue | undefined, param: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidRequest(`Invalid string: ${JSON.stringify(v)}`, { param });
  return v;
}

function int(v: FormValue | undefined, param: string): number | undefined {
  const s = str(v, param);
  if (s === undefined || s === '') return undefined;
  if (!/^-?\d+$/.test(s)) throw invalidRequest(`Invalid integer: ${s}`, { code: 'parameter_invalid_integer', param });
  return Number(s);
}

/** `metadata[key]=value` pairs as Stripe takes them: strings by string keys. */
function metadataOf(v: FormValue | undefined): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidRequest('Invalid object', { param: 'metadata' });
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(v)) {
    if (typeof value !== 'string') throw invalidRequest(`Invalid string: metadata[${key}]`, { param: `metadata[${key}]` });
    out[key] = value;
  }
  return out;
}

function checkParams(params: Form, allowed: string[]): void {
  for (const key of Object.keys(params)) if (!allowed.includes(key)) throw unknownParameter(key);
}

/** `created` as an exact timestamp or a range `{gt, gte, lt, lte}`. */
function createdMatcher(v: FormValue | undefined): ((created: number) => boolean) | null {
  if (v === undefined) return null;
  if (typeof v === 'string') {
    const n = int(v, 'created');
    return (c) => c === n;
  }
  if (Array.isArray(v)) throw invalidRequest('Invalid created: must be an integer or a range', { param: 'created' });
  const bounds: Array<(c: number) => boolean> = [];
  for (const [op, raw] of Object.entries(v)) {
    const n = int(raw, `created[${op}]`);
    if (n === undefined) continue;
    if (op === 'gt') bounds.push((c) => c > n);
    else if (op === 'gte') bounds.push((c) => c >= n);
    else if (op === 'lt') bounds.push((c) => c < n);
    else if (op === 'lte') bounds.push((c) => c <= n);
    else throw unknownParameter(`created[${op}]`);
  }
  return (c) => bounds.every((b) => b(c));
}

export function listObjects<T extends Stored>(ctx: RouteContext, spec: ListSpec<T>): Stripe.ApiList<T> {
  const { params, account } = ctx;
  const filters = spec.filters ?? {};
  checkParams(params, [...PAGE, ...Object.keys(filters)]);
  for (const r of spec.required ?? []) if (params[r] === undefined) throw missingParameter(r);
  const limit = int(params.limit, 'limit') ?? 10;
  if (limit < 1 || limit > 100) throw invalidRequest(`Invalid limit: must be between 1 and 100`, { code: 'parameter_invalid_integer', param: 'limit' });
  const collection = spec.collection(account);
  const cursor = (name: 'starting_after' | 'ending_before'): number | undefined => {
    const id = str(params[name], name);
    if (id === undefined || id === '') return undefined;
    const at = collection.position(id);
    if (at === undefined) throw invalidRequest(`No such object: '${id}'`, { code: 'resource_missing', param: name, status: 400 });
    return at;
  };
  const startingAfter = cursor('starting_after');
  const endingBefore = cursor('ending_before');
  if (startingAfter !== undefined && endingBefore !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: ending_before, starting_after.', { param: 'ending_before' });
  }
  let candidates: readonly number[] | undefined;
  const matchers: Array<(obj: T) => boolean> = [];
  const created = createdMatcher(params.created);
  if (created) matchers.push((o) => created(o.created));
  for (const [name, filter] of Object.entries(filters)) {
    const value = params[name];
    if (value === undefined) continue;
    if ('index' in filter) {
      const v = str(value, name) ?? '';
      const positions = collection.indexed(filter.index, v) ?? [];
      // Intersect with an earlier index by keeping the smaller list and matching the rest by value.
      if (!candidates || positions.length < candidates.length) {
        const prev = candidates;
        candidates = positions;
        if (prev) {
          const set = new Set(prev);
          matchers.push((o) => set.has(collection.position(o.id) ?? -1));
        }
      } else {
        const set = new Set(positions);
        matchers.push((o) => set.has(collection.position(o.id) ?? -1));
      }
    } else {
      matchers.push((o) => filter.match(o, value));
    }
  }
  if (spec.defaultMatch) {
    const dm = spec.defaultMatch;
    matchers.push((o) => dm(o, params));
  }
  const page = collection.page({
    limit,
    ...(startingAfter !== undefined ? { startingAfter } : {}),
    ...(endingBefore !== undefined ? { endingBefore } : {}),
    ...(candidates ? { candidates } : {}),
    ...(matchers.length ? { match: (o: T) => matchers.every((m) => m(o)) } : {}),
  });
  ctx.onPage();
  return { object: 'list', data: page.data, has_more: page.hasMore, url: spec.url };
}

function retrieve<T extends Stored>(ctx: RouteContext, collection: Collection<T>, kind: string): T {
  checkParams(ctx.params, ['expand']);
  const id = ctx.ids[0] as string;
  const obj = collection.get(id);
  if (!obj) throw resourceMissing(kind, id);
  return obj;
}

const bool = (v: FormValue): boolean => v === 'true';
const SUB_STATUSES = ['active', 'all', 'canceled', 'ended', 'incomplete', 'incomplete_expired', 'past_due', 'paused', 'trialing', 'unpaid'];

function id(path: string): RegExp {
  return new RegExp(`^/v1/${path.replace(/:id/g, '([^/]+)')}$`);
}

export function accountObject(a: SimAccount): Stripe.Account {
  const created = a.catalog.products[0]?.created ?? a.now;
  const noRequirements = { alternatives: [], current_deadline: null, currently_due: [], disabled_reason: null, errors: [], eventually_due: [], past_due: [], pending_verification: [] };
  return {
    id: a.id,
    object: 'account',
    business_profile: {
      annual_revenue: null,
      estimated_worker_count: null,
      mcc: '5734',
      minority_owned_business_designation: null,
      name: a.name,
      product_description: 'Software as a service',
      specified_commercial_transactions_act_url: null,
      support_address: null,
      support_email: null,
      support_phone: null,
      support_url: null,
      url: null,
    },
    business_type: 'company',
    capabilities: { card_payments: 'active', transfers: 'active' },
    charges_enabled: true,
    controller: { type: 'account' },
    country: a.country,
    created,
    default_currency: 'usd',
    details_submitted: true,
    email: null,
    external_accounts: { object: 'list', data: [], has_more: false, url: `/v1/accounts/${a.id}/external_accounts` },
    future_requirements: noRequirements,
    metadata: {},
    payouts_enabled: true,
    requirements: noRequirements,
    // Dashboard and payout settings are not simulated.
    settings: null,
    tos_acceptance: { date: created, ip: null, user_agent: null },
    type: 'standard',
  };
}

const ROUTE_TABLE: Route[] = [
  { method: 'GET', pattern: id('account'), resource: null, access: 'read', handle: (ctx) => (checkParams(ctx.params, ['expand']), accountObject(ctx.account)) },
  {
    method: 'GET',
    pattern: id('accounts/:id'),
    resource: null,
    access: 'read',
    handle: (ctx) => {
      checkParams(ctx.params, ['expand']);
      const account = ctx.reachable(ctx.ids[0] as string);
      if (!account) throw resourceMissing('account', ctx.ids[0] as string);
      return accountObject(account);
    },
  },
  {
    method: 'GET',
    pattern: id('customers'),
    resource: 'customers',
    access: 'read',
    handle: (ctx) => listObjects(ctx, { url: '/v1/customers', collection: (a) => a.customers, filters: { email: { index: 'email' } } }),
  },
  { method: 'GET', pattern: id('customers/:id'), resource: 'customers', access: 'read', handle: (ctx) => retrieve(ctx, ctx.account.customers, 'customer') },
  {
    method: 'GET',
    pattern: id('products'),
    resource: 'products',
    access: 'read',
    handle: (ctx) => listObjects(ctx, { url: '/v1/products', collection: (a) => a.products, filters: { active: { match: (p, v) => p.active === bool(v) } } }),
  },
  { method: 'GET', pattern: id('products/:id'), resource: 'products', access: 'read', handle: (ctx) => retrieve(ctx, ctx.account.products, 'product') },
  {
    method: 'GET',
    pattern: id('prices'),
    resource: 'prices',
    access: 'read',
    handle: (ctx) =>
      listObjects(ctx, {
        url: '/v1/prices',
        collection: (a) => a.prices,
        filters: {
          product: { index: 'product' },
          active: { match: (p, v) => p.active === bool(v) },
          currency: { match: (p, v) => p.currency === v },
          type: { match: (p, v) => p.type === v },
        },
        // As Stripe: archived prices only when asked for (`active=false`), though subscriptions still bill on them.
        defaultMatch: (p, params) => params.active !== undefined || p.active,
      }),
  },
  { method: 'GET', pattern: id('prices/:id'), resource: 'prices', access: 'read', handle: (ctx) => retrieve(ctx, ctx.account.prices, 'price') },
  {
    method: 'GET',
    pattern: id('coupons'),
    resource: 'coupons',
    access: 'read',
    handle: (ctx) => listObjects(ctx, { url: '/v1/coupons', collection: (a) => a.coupons }),
  },
  { method: 'GET', pattern: id('coupons/:id'), resource: 'coupons', access: 'read', handle: (ctx) => retrieve(ctx, ctx.account.coupons, 'coupon') },
  {
    method: 'GET',
    pattern: id('subscriptions'),
    resource: 'subscriptions',
    access: 'read',
    handle: (ctx) => {
      const status = ctx.params.status;
      if (status !== undefined && (typeof status !== 'string' || !SUB_STATUSES.includes(status))) {
        throw invalidRequest(`Invalid status: must be one of ${SUB_STATUSES.join(', ')}`, { param: 'status' });
      }
      return listObjects(ctx, {
        url: '/v1/subscriptions',
        collection: (a) => a.subscriptions,
        filters: {
          customer: { index: 'customer' },
          price: { match: (s, v) => s.items.data.some((i) => i.price.id === v) },
          status: { match: () => true },
        },
        // Stripe lists every status but canceled unless asked.
        defaultMatch: (s, params) => {
          const want = params.status;
          if (want === undefined) return s.status !== 'canceled' && s.status !== 'incomplete_expired';
          if (want === 'all') return true;
          if (want === 'ended') return s.status === 'canceled' || s.status === 'incomplete_expired';
          return s.status === want;
        },
      });
    },
  },
  { method: 'GET', pattern: id('subscriptions/:id'), resource: 'subscriptions', access: 'read', handle: (ctx) => retrieve(ctx, ctx.account.subscriptions, 'subscription') },
  {
    method: 'GET',
    pattern: id('subscription_items'),
    resource: 'subscriptions',
    access: 'read',
    handle: (ctx) => {
      checkParams(ctx.params, ['limit', 'starting_after', 'ending_before', 'expand', 'subscription']);
      const subId = str(ctx.params.subscription, 'subscription');
      if (!subId) throw missingParameter('subscription');
      const sub = ctx.account.subscriptions.get(subId);
      if (!sub) throw invalidRequest(`No such subscription: '${subId}'`, { code: 'resource_missing', param: 'subscription' });
      return pageArray(ctx, sub.items.data, `/v1/subscription_items`);
    },
  },
  {
    method: 'GET',
    pattern: id('subscription_items/:id'),
    resource: 'subscriptions',
    access: 'read',
    handle: (ctx) => {
      checkParams(ctx.params, ['expand']);
      const item = ctx.account.subscriptionItems.get(ctx.ids[0] as string);
      if (!item) throw resourceMissing('subscription_item', ctx.ids[0] as string);
      return item;
    },
  },
  {
    method: 'GET',
    pattern: id('invoices'),
    resource: 'invoices',
    access: 'read',
    handle: (ctx) =>
      listObjects(ctx, {
        url: '/v1/invoices',
        collection: (a) => a.invoices,
        filters: {
          customer: { index: 'customer' },
          subscription: { index: 'subscription' },
          status: { match: (i, v) => i.status === v },
          collection_method: { match: (i, v) => i.collection_method === v },
        },
      }),
  },
  { method: 'GET', pattern: id('invoices/:id'), resource: 'invoices', access: 'read', handle: (ctx) => retrieve(ctx, ctx.account.invoices, 'invoice') },
  {
    method: 'GET',
    pattern: id('invoices/:id/lines'),
    resource: 'invoices',
    access: 'read',
    handle: (ctx) => {
      checkParams(ctx.params, ['limit', 'starting_after', 'ending_before', 'expand']);
      const inv = ctx.account.invoices.get(ctx.ids[0] as string);
      if (!inv) throw resourceMissing('invoice', ctx.ids[0] as string);
      return pageArray(ctx, inv.lines.data, `/v1/invoices/${inv.id}/lines`);
    },
  },
  {
    method: 'POST',
    pattern: id('invoices/:id/pay'),
    resource: 'invoices',
    access: 'write',
    handle: (ctx) => {
      checkParams(ctx.params, ['expand', 'paid_out_of_band', 'forgive', 'off_session', 'payment_method', 'source', 'mandate']);
      const inv = ctx.account.invoices.get(ctx.ids[0] as string);
      if (!inv) throw resourceMissing('invoice', ctx.ids[0] as string);
      if (inv.status === 'paid') throw invalidRequest('Invoice is already paid', { code: 'invoice_already_paid' });
      if (inv.status !== 'open' && inv.status !== 'uncollectible') {
        throw invalidRequest(`You can only pay an invoice that is open or uncollectible; this invoice is ${inv.status}.`, { code: 'invoice_not_editable' });
      }
      if (inv.status === 'uncollectible') inv.status = 'open';
      ctx.account.payInvoice(inv, ctx.params.paid_out_of_band === 'true' ? 'out_of_band' : 'default_card');
      if (inv.status !== 'paid') {
        throw new PaymentDeclined(inv);
      }
      return inv;
    },
  },
  {
    method: 'GET',
    pattern: id('invoice_payments'),
    resource: 'invoices',
    access: 'read',
    handle: (ctx) => {
      checkParams(ctx.params, ['limit', 'starting_after', 'ending_before', 'expand', 'invoice']);
      const invoiceId = str(ctx.params.invoice, 'invoice');
      // Listing every payment of an account is not needed by the project; by invoice is.
      if (!invoiceId) throw missingParameter('invoice');
      const inv = ctx.account.invoices.get(invoiceId);
      if (!inv) throw invalidRequest(`No such invoice: '${invoiceId}'`, { code: 'resource_missing', param: 'invoice' });
      return pageArray(ctx, invoicePayments(ctx.account, inv), `/v1/invoice_payments`);
    },
  },
  {
    method: 'GET',
    pattern: id('charges'),
    resource: 'charges',
    access: 'read',
    handle: (ctx) =>
      listObjects(ctx, { url: '/v1/charges', collection: (a) => a.charges, filters: { customer: { index: 'customer' }, payment_intent: { index: 'payment_intent' } } }),
  },
  { method: 'GET', pattern: id('charges/:id'), resource: 'charges', access: 'read', handle: (ctx) => retrieve(ctx, ctx.account.charges, 'charge') },
  {
    method: 'GET',
    pattern: id('refunds'),
    resource: 'refunds',
    access: 'read',
    handle: (ctx) => listObjects(ctx, { url: '/v1/refunds', collection: (a) => a.refunds, filters: { charge: { index: 'charge' }, payment_intent: { index: 'payment_intent' } } }),
  },
  { method: 'GET', pattern: id('refunds/:id'), resource: 'refunds', access: 'read', handle: (ctx) => retrieve(ctx, ctx.account.refunds, 'refund') },
  {
    method: 'POST',
    pattern: id('refunds'),
    resource: 'refunds',
    access: 'write',
    handle: (ctx) => {
      checkParams(ctx.params, ['charge', 'payment_intent', 'amount', 'reason', 'metadata', 'expand']);
      const chargeId = str(ctx.params.charge, 'charge');
      const intentId = str(ctx.params.payment_intent, 'payment_intent');
      if (!chargeId && !intentId) throw invalidRequest('One of the following params should be provided for this request: payment_intent or charge.', { code: 'parameter_missing' });
      let charge: string | null | undefined = chargeId;
      if (!charge) {
        const intent = ctx.account.paymentIntents.get(intentId!);
        if (!intent) throw invalidRequest(`No such payment_intent: '${intentId}'`, { code: 'resource_missing', param: 'payment_intent' });
        charge = typeof intent.latest_charge === 'string' ? intent.latest_charge : (intent.latest_charge?.id ?? null);
        if (!charge) throw invalidRequest(`PaymentIntent ${intentId} has no charge to refund.`, { param: 'payment_intent' });
      }
      const reason = str(ctx.params.reason, 'reason');
      if (reason !== undefined && !isRefundReason(reason)) throw invalidRequest(`Invalid reason: must be one of ${REFUND_REASONS.join(', ')}`, { param: 'reason' });
      try {
        return ctx.account.refundCharge(charge, { amount: int(ctx.params.amount, 'amount'), reason: reason ?? null, metadata: metadataOf(ctx.params.metadata) });
      } catch (err) {
        if (err instanceof RefundRefused) throw invalidRequest(err.message, err.details);
        throw err;
      }
    },
  },
  {
    method: 'GET',
    pattern: id('payment_intents'),
    resource: 'payment_intents',
    access: 'read',
    handle: (ctx) => listObjects(ctx, { url: '/v1/payment_intents', collection: (a) => a.paymentIntents, filters: { customer: { index: 'customer' } } }),
  },
  { method: 'GET', pattern: id('payment_intents/:id'), resource: 'payment_intents', access: 'read', handle: (ctx) => retrieve(ctx, ctx.account.paymentIntents, 'payment_intent') },
  {
    method: 'GET',
    pattern: id('events'),
    resource: 'events',
    access: 'read',
    handle: (ctx) =>
      listObjects(ctx, {
        url: '/v1/events',
        collection: (a) => a.events,
        filters: {
          type: { match: (e, v) => typeMatches(e.type, v) },
          types: { match: (e, v) => (Array.isArray(v) ? v : [v]).some((t) => typeMatches(e.type, t)) },
        },
      }),
  },
  { method: 'GET', pattern: id('events/:id'), resource: 'events', access: 'read', handle: (ctx) => retrieve(ctx, ctx.account.events, 'event') },
  {
    method: 'POST',
    pattern: id('billing_portal/sessions'),
    resource: 'billing_portal',
    access: 'write',
    handle: (ctx) => {
      checkParams(ctx.params, ['customer', 'return_url', 'configuration', 'locale', 'on_behalf_of', 'flow_data', 'expand']);
      const customer = str(ctx.params.customer, 'customer');
      if (!customer) throw missingParameter('customer');
      if (!ctx.account.customers.get(customer)) throw invalidRequest(`No such customer: '${customer}'`, { code: 'resource_missing', param: 'customer' });
      const returnUrl = str(ctx.params.return_url, 'return_url') ?? null;
      const sessionId = ctx.account.newId('bps_1');
      return buildPortalSession({
        id: sessionId,
        created: ctx.account.now,
        customer,
        returnUrl,
        url: `${ctx.baseUrl}/_sim/portal/${sessionId}`,
        configuration: `bpc_1${ctx.account.id.slice(5)}`,
      });
    },
  },
];

export const ROUTES: Route[] = ROUTE_TABLE.map((r) => ({ ...r, path: r.pattern.source.replace(/^\^/, '').replace(/\$$/, '').replace(/\(\[\^\/\]\+\)/g, ':id').replace(/\\\//g, '/') }));

export function invoicePayments(account: SimAccount, invoice: Stripe.Invoice): Stripe.InvoicePayment[] {
  const pi = account.invoicePayment.get(invoice.id);
  return pi ? [buildInvoicePayment(invoice, pi)] : [];
}

/** A declined `pay` answers 402 with a card error, as Stripe does. */
export class PaymentDeclined extends Error {
  constructor(readonly invoice: Stripe.Invoice) {
    super('Your card was declined.');
  }
}

function typeMatches(type: string, pattern: FormValue): boolean {
  if (typeof pattern !== 'string') return false;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return type === pattern;
}

/** Pagination over a small embedded list (items, invoice lines), in the list's own order. */
function pageArray<T extends { id: string }>(ctx: RouteContext, rows: T[], url: string): Stripe.ApiList<T> {
  const limit = int(ctx.params.limit, 'limit') ?? 10;
  if (limit < 1 || limit > 100) throw invalidRequest(`Invalid limit: must be between 1 and 100`, { code: 'parameter_invalid_integer', param: 'limit' });
  const after = str(ctx.params.starting_after, 'starting_after');
  const before = str(ctx.params.ending_before, 'ending_before');
  let start = 0;
  let end = rows.length;
  if (after) {
    const i = rows.findIndex((r) => r.id === after);
    if (i < 0) throw invalidRequest(`No such object: '${after}'`, { code: 'resource_missing', param: 'starting_after' });
    start = i + 1;
  }
  if (before) {
    const i = rows.findIndex((r) => r.id === before);
    if (i < 0) throw invalidRequest(`No such object: '${before}'`, { code: 'resource_missing', param: 'ending_before' });
    end = i;
    start = Math.max(0, end - limit);
  }
  const data = rows.slice(start, Math.min(end, start + limit));
  ctx.onPage();
  return { object: 'list', data, has_more: before ? start > 0 : start + limit < end, url };
}
