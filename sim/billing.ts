import type Stripe from 'stripe';

/**
 * What a price charges for a quantity over one full period, as Stripe bills the
 * prices the simulator sells: per unit, or by `volume` tiers (every unit at the
 * amount of the tier the quantity falls in). Anything else is not sold here, so
 * it stops the simulator rather than being billed wrong. `unitAmount` is what each
 * unit was billed at (an invoice line's unit amount).
 */
export function priceCharge(price: Stripe.Price, quantity: number): { amount: number; unitAmount: number } {
  if (price.transform_quantity === null && price.billing_scheme === 'per_unit' && price.unit_amount !== null) return { amount: price.unit_amount * quantity, unitAmount: price.unit_amount };
  if (price.transform_quantity === null && price.billing_scheme === 'tiered' && price.tiers_mode === 'volume' && price.tiers) {
    const tier = price.tiers.find((t) => t.up_to === null || quantity <= t.up_to);
    if (tier && tier.unit_amount !== null && tier.flat_amount === null) return { amount: tier.unit_amount * quantity, unitAmount: tier.unit_amount };
  }
  throw new Error(`price ${price.id}: the simulator bills whole per-unit amounts and volume tiers of them only (no packages, flat amounts or graduated tiers)`);
}
