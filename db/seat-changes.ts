import type { Db } from './knex';

/**
 * Seats each customer's live subscription items gained since `since` (migration 025
 * records every change of an item's quantity): per customer, the item that gained
 * most, with its quantity before the first change in the window and now. Items that
 * did not change, or lost seats overall, are left out; so are customers in `only`'s
 * complement when it is given.
 */
export async function seatsAddedSince(db: Db, workspaceId: string, since: Date, only?: readonly string[]): Promise<Map<string, { from: number; to: number }>> {
  const { rows } = await db.raw<{ rows: { customer_id: string; from_quantity: number; to_quantity: number }[] }>(
    `select distinct on (s.customer_id) s.customer_id, c.from_quantity, i.quantity as to_quantity
       from (select distinct on (item_id) item_id, subscription_id, from_quantity
               from seat_changes where workspace_id = :ws and at > :since
               order by item_id, at, id) c
       join stripe_subscription_items i on i.workspace_id = :ws and i.id = c.item_id
       join stripe_subscriptions s on s.workspace_id = :ws and s.id = c.subscription_id
      where s.ended_at is null and i.quantity > c.from_quantity
        and (:only::text[] is null or s.customer_id = any(:only::text[]))
      order by s.customer_id, i.quantity - c.from_quantity desc, c.item_id`,
    { ws: workspaceId, since, only: only ? [...only] : null },
  );
  return new Map(rows.map((r) => [r.customer_id, { from: r.from_quantity, to: r.to_quantity }]));
}
