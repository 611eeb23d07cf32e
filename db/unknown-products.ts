import type { Db } from './knex';

/** A price (`p`) whose product the mirror does not hold: created since the last sync, known by its id alone. */
const UNKNOWN_PRODUCT = `not exists (select 1 from stripe_products pr where pr.workspace_id = p.workspace_id and pr.id = p.product_id)`;

/**
 * The workspaces holding a price of a product the mirror does not hold. A price first
 * seen in a subscription's item names its product by id only; until the product is read
 * the plan mapping leaves it out, and its customers have no plan to pitch or quote.
 */
export async function workspacesWithUnknownProducts(db: Db): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { workspace_id: string }[] }>(`select distinct p.workspace_id from stripe_prices p where p.product_id <> '' and ${UNKNOWN_PRODUCT} order by p.workspace_id`);
  return rows.map((r) => r.workspace_id);
}

/** The ids of the workspace's products its prices name but the mirror does not hold. */
export async function unknownProductIds(db: Db, workspaceId: string): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { product_id: string }[] }>(
    `select distinct p.product_id from stripe_prices p where p.workspace_id = ? and p.product_id <> '' and ${UNKNOWN_PRODUCT} order by p.product_id`,
    [workspaceId],
  );
  return rows.map((r) => r.product_id);
}
