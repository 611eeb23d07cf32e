import { deleteInBatches } from './batched-delete';
import type { Db } from './knex';

/** Seats one customer's item of a plan had before the window and has now. */
export interface SeatGrowth {
  productId: string;
  from: number;
  to: number;
}

/**
 * Seats the items of each customer's live subscriptions gained since `since`
 * (migration 025 records every change of an item's quantity): per customer and
 * product, the item that gained most, with its quantity before the first change in
 * the window and now. Items that did not change, or lost seats overall, are left out;
 * so are customers not in `only` when it is given.
 */
export async function seatsAddedSince(db: Db, workspaceId: string, since: Date, only?: readonly string[]): Promise<Map<string, SeatGrowth[]>> {
  const { rows } = await db.raw<{ rows: { customer_id: string; product_id: string; from_quantity: number; to_quantity: number }[] }>(
    `select distinct on (s.customer_id, p.product_id) s.customer_id, p.product_id, c.from_quantity, i.quantity as to_quantity
       from (select distinct on (item_id) item_id, subscription_id, from_quantity
               from seat_changes where workspace_id = :ws and at > :since
               order by item_id, at, id) c
       join stripe_subscription_items i on i.workspace_id = :ws and i.id = c.item_id
       join stripe_prices p on p.workspace_id = :ws and p.id = i.price_id
       join stripe_subscriptions s on s.workspace_id = :ws and s.id = c.subscription_id
      where s.ended_at is null and s.status in ('active', 'trialing', 'past_due', 'unpaid') and i.quantity > c.from_quantity
        and (:only::text[] is null or s.customer_id = any(:only::text[]))
      order by s.customer_id, p.product_id, i.quantity - c.from_quantity desc, c.item_id`,
    { ws: workspaceId, since, only: only ? [...only] : null },
  );
  const out = new Map<string, SeatGrowth[]>();
  for (const r of rows) out.set(r.customer_id, [...(out.get(r.customer_id) ?? []), { productId: r.product_id, from: r.from_quantity, to: r.to_quantity }]);
  return out;
}

/** The seats a customer's plan (its product) gained, from seatsAddedSince's answer; null when it gained none. */
export function planSeats(growth: ReadonlyMap<string, SeatGrowth[]>, customerId: string, productId: string): { from: number; to: number } | null {
  const g = growth.get(customerId)?.find((x) => x.productId === productId);
  return g ? { from: g.from, to: g.to } : null;
}

/**
 * Deletes seat changes older than `cutoff`, `batch` at a time (each delete a short
 * statement), calling `onBatch` with the total after each; it returns false to stop
 * early. Answers how many went.
 */
export function pruneSeatChanges(db: Db, cutoff: Date, batch = 5_000, onBatch?: (pruned: number) => boolean | void): Promise<number> {
  return deleteInBatches(
    async () => (await db.raw<{ rowCount: number }>('delete from seat_changes where id in (select id from seat_changes where at < ? limit ?)', [cutoff, batch])).rowCount,
    batch,
    onBatch,
  );
}
