import type Stripe from 'stripe';
import type { SimAccount } from './account';
import { Rng } from './random';
import { DAY } from './time';

/**
 * The simulated account's product: what its customers did in it, as the product
 * would report it to Wysera's signals API (POST /workspaces/:id/signals). Usage
 * follows billing the way it does in a real business: customers who end their
 * subscription or stop paying use the product less in the weeks before, others
 * grow or hold steady. Stripe knows nothing of this; the simulator models it so the
 * demo's plays and customer pages have real-shaped signals to read.
 */

export type SimProductSignal =
  | { type: 'usage'; id: string; customerId: string; at: string; metric: string; quantity: number }
  | { type: 'login'; id: string; customerId: string; at: string }
  | { type: 'ticket'; id: string; customerId: string; at: string; ticket: string; status: 'opened' | 'solved'; priority?: 'low' | 'normal' | 'high' | 'urgent' };

/** How a customer's use moves over the window. */
type Course = 'fading' | 'growing' | 'steady';

const customerOf = (s: Stripe.Subscription) => (typeof s.customer === 'string' ? s.customer : s.customer.id);
const isoDay = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);
const iso = (t: number) => new Date(t * 1000).toISOString();

/**
 * Every signal of the last `days` whole days (UTC) before `until` (Unix seconds; the
 * account's clock by default), per customer with a subscription live in that window:
 * daily totals of two metrics, each login, and support tickets. Deterministic for an
 * account (seeded by its id and each customer's), so sending them again sends the
 * same ids: duplicates.
 */
export function* productSignals(account: SimAccount, days: number, until = account.now): Generator<SimProductSignal> {
  const today = Math.floor(until / DAY) * DAY;
  const from = today - days * DAY;
  const subsByCustomer = new Map<string, Stripe.Subscription[]>();
  for (const s of account.subscriptions.rows) {
    const list = subsByCustomer.get(customerOf(s)) ?? [];
    list.push(s);
    subsByCustomer.set(customerOf(s), list);
  }
  for (const customer of account.customers.rows) {
    const subs = subsByCustomer.get(customer.id) ?? [];
    // The product is used while a subscription runs: from its start to its end.
    const start = Math.max(from, Math.min(...subs.map((s) => s.start_date)));
    const end = Math.min(today, Math.max(...subs.map((s) => (s.ended_at ?? today))));
    if (!subs.length || end <= from || start >= today) continue;
    // Everything is seeded by the account, the customer and the day, and levels follow
    // absolute time: a day reads the same whatever window asks for it, so a signal
    // sent again is the same signal (a duplicate), not another.
    const rng = new Rng(`${account.id}:${customer.id}:product`);
    const leaving = subs.some((s) => s.cancel_at_period_end || s.status === 'past_due' || s.status === 'unpaid' || s.ended_at !== null);
    const course: Course = leaving ? 'fading' : rng.weighted<Course>([['growing', 2], ['steady', 6], ['fading', 1]]);
    const seats = Math.max(1, ...subs.flatMap((s) => s.items.data.map((i) => i.quantity ?? 1)));
    // About 1 to 6 reports a seat a working day: a flat plan's customer (one unit) then uses
    // Starter's 150 a month from a sixth to all of it, so some near the allowance, most not.
    const reportsPerSeat = 1 + rng.next() * 5;
    const began = Math.min(...subs.map((s) => s.start_date));
    // Leaving customers fade over the 60 days before they go (or before the period that
    // is not being paid ends); others that fade, over the 120 days after their first 90.
    const goes = Math.max(...subs.map((s) => s.ended_at ?? s.cancel_at ?? s.items.data[0]?.current_period_end ?? today));
    const levelOn = (day: number): number => {
      if (course === 'growing') return 1 + Math.min(1, Math.max(0, (day - began) / (365 * DAY)));
      if (course === 'steady') return 1;
      const share = leaving ? 1 - (goes - day) / (60 * DAY) : (day - began - 90 * DAY) / (120 * DAY);
      return 1 - 0.9 * Math.min(1, Math.max(0, share));
    };
    for (let day = Math.floor(start / DAY) * DAY; day < end; day += DAY) {
      const daily = new Rng(`${account.id}:${customer.id}:${isoDay(day)}`);
      const level = levelOn(day);
      const weekday = new Date(day * 1000).getUTCDay() % 6 !== 0;
      const busy = level * (weekday ? 1 : 0.3) * (0.7 + daily.next() * 0.6);
      const dayId = `${customer.id}-${isoDay(day)}`;
      const closing = day + DAY - 1;
      const reports = Math.round(seats * reportsPerSeat * busy);
      if (reports > 0) yield { type: 'usage', id: `sim-reports-${dayId}`, customerId: customer.id, at: iso(closing), metric: 'reports_generated', quantity: reports };
      const shared = Math.round(reports * 0.15 * daily.next());
      if (shared > 0) yield { type: 'usage', id: `sim-shares-${dayId}`, customerId: customer.id, at: iso(closing), metric: 'dashboards_shared', quantity: shared };
      const logins = Math.round(seats * 0.4 * busy);
      for (let n = 0; n < logins; n++) yield { type: 'login', id: `sim-login-${dayId}-${n}`, customerId: customer.id, at: iso(day + daily.int(7 * 3600, 19 * 3600)) };
      // Unhappy customers write to support more often; a ticket is solved within days, if ever by now.
      if (daily.chance(course === 'fading' ? 0.06 : 0.015)) {
        const ticket = `T-${customer.id.slice(-6)}-${isoDay(day)}`;
        const priority = daily.weighted<'low' | 'normal' | 'high' | 'urgent'>([['low', 2], ['normal', 5], ['high', 2], ['urgent', course === 'fading' ? 1 : 0.2]]);
        yield { type: 'ticket', id: `sim-ticket-${ticket}-opened`, customerId: customer.id, at: iso(day + daily.int(8 * 3600, 17 * 3600)), ticket, status: 'opened', priority };
        const solved = day + daily.int(1, 5) * DAY + 12 * 3600;
        const neverSolved = course === 'fading' && daily.chance(0.4);
        if (solved < until && !neverSolved) yield { type: 'ticket', id: `sim-ticket-${ticket}-solved`, customerId: customer.id, at: iso(solved), ticket, status: 'solved' };
      }
    }
  }
}
