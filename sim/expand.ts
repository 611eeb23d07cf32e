import type { SimAccount } from './account';
import { invoicePayments } from './api';
import { invalidRequest } from './errors';
import { included, isIncludable } from './includable';

/**
 * Stripe's `expand[]`: replaces an id at a dotted path with the object it names.
 * A path may cross lists (`data.customer`, `items.data.price.product`); anything
 * that is not an id of a known object cannot be expanded, which Stripe answers
 * with a 400.
 */
const MAX_DEPTH = 4;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function lookup(account: SimAccount, id: string): unknown {
  const prefix = id.slice(0, id.indexOf('_') + 1);
  switch (prefix) {
    case 'cus_':
      return account.customers.get(id);
    case 'prod_':
      return account.products.get(id);
    case 'price_':
      return account.prices.get(id);
    case 'sub_':
      return account.subscriptions.get(id);
    case 'si_':
      return account.subscriptionItems.get(id);
    case 'in_':
      return account.invoices.get(id);
    case 'ch_':
      return account.charges.get(id);
    case 're_':
      return account.refunds.get(id);
    case 'pi_':
      return account.paymentIntents.get(id);
    case 'di_':
      return account.discounts.get(id);
    default:
      return account.coupons.get(id);
  }
}

export function expandPaths(params: unknown): string[] {
  if (params === undefined) return [];
  if (typeof params === 'string') return [params];
  if (Array.isArray(params)) return params.filter((p): p is string => typeof p === 'string');
  throw invalidRequest('Invalid array', { param: 'expand' });
}

/** Returns a copy of `body` with the paths expanded (the stored objects stay untouched). */
export function expand(account: SimAccount, body: unknown, paths: string[]): unknown {
  if (paths.length === 0) return body;
  const copy = JSON.parse(JSON.stringify(body)) as Json;
  for (const path of paths) {
    const parts = path.split('.');
    if (parts.length > MAX_DEPTH) throw invalidRequest(`You cannot expand more than ${MAX_DEPTH} levels of a property. Property: ${path}`, { param: 'expand' });
    const isList = copy !== null && typeof copy === 'object' && !Array.isArray(copy) && copy.object === 'list';
    if (isList && parts[0] !== 'data') {
      throw invalidRequest(`This property cannot be expanded (${path}). You may want to try expanding 'data.${path}' instead.`, { param: 'expand' });
    }
    if (!walk(account, copy, parts)) throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
  }
  return copy;
}

/**
 * Answers an includable field (sim/includable.ts): an invoice's `payments`, built now;
 * a coupon's `applies_to`, stored with a restricted one (null for one without); a
 * price's or plan's `tiers`, stored with it (a per-unit price has none: nothing to add).
 */
function include(account: SimAccount, node: { [key: string]: Json }, field: string): boolean {
  if (field === 'payments') {
    const invoice = typeof node.id === 'string' ? account.invoices.get(node.id) : undefined;
    if (!invoice) return false;
    const data = JSON.parse(JSON.stringify(invoicePayments(account, invoice))) as Json[];
    node.payments = { object: 'list', data, has_more: false, url: `/v1/invoice_payments?invoice=${invoice.id}` };
  } else if (field === 'applies_to') {
    node.applies_to = node.applies_to ?? null;
  } else if (!(field in node)) {
    return true;
  }
  included(node, field);
  return true;
}

function walk(account: SimAccount, node: Json, parts: string[]): boolean {
  if (Array.isArray(node)) {
    // An empty list has nothing to expand, which is fine.
    return node.every((el) => walk(account, el, parts));
  }
  if (node === null || typeof node !== 'object') return false;
  const [head, ...rest] = parts as [string, ...string[]];
  if (isIncludable(node, head)) return rest.length === 0 && include(account, node, head);
  if (!(head in node)) return false;
  const value = node[head] as Json;
  if (rest.length > 0) {
    if (value === null) return true;
    if (typeof value === 'string') {
      // Expanding through an id expands it first (`data.default_price.product` works on prices' ids).
      const obj = lookup(account, value);
      if (!obj) return false;
      node[head] = JSON.parse(JSON.stringify(obj)) as Json;
      return walk(account, node[head], rest);
    }
    if (Array.isArray(value)) {
      // A list of ids on the way (`discounts.source.coupon`): expand each, then go on.
      for (let i = 0; i < value.length; i++) {
        const el = value[i] as Json;
        if (typeof el === 'string') {
          const obj = lookup(account, el);
          if (!obj) return false;
          value[i] = JSON.parse(JSON.stringify(obj)) as Json;
        }
        if (!walk(account, value[i] as Json, rest)) return false;
      }
      return true;
    }
    return walk(account, value, rest);
  }
  if (value === null) return true;
  if (typeof value === 'object' && !Array.isArray(value)) return value.object !== undefined; // already an object
  if (Array.isArray(value)) {
    const out: Json[] = [];
    for (const v of value) {
      if (typeof v !== 'string') return false;
      const obj = lookup(account, v);
      if (!obj) return false;
      out.push(JSON.parse(JSON.stringify(obj)) as Json);
    }
    node[head] = out;
    return true;
  }
  if (typeof value !== 'string') return false;
  const obj = lookup(account, value);
  if (!obj) return false;
  node[head] = JSON.parse(JSON.stringify(obj)) as Json;
  return true;
}
