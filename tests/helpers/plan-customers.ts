import { CustomerBuilder } from '../domain/mrr-builder';

const DAY = 86_400_000;
export const ago = (days: number) => new Date(Date.now() - days * DAY);

/**
 * A customer of the plays' test catalogue (Starter $29, Growth $99, Scale $299 a
 * month; seedMirror names each price's product prod_<price>), on one plan, renewing
 * in 20 days, as the mirror seeds them.
 */
export const onPlan = (id: string, plan: 'starter' | 'growth' | 'scale', opts: { cancel?: boolean } = {}) =>
  new CustomerBuilder(id)
    .price('price_starter', 2900)
    .price('price_growth', 9900)
    .price('price_scale', 29900)
    .subscription(`sub_${id}`, { items: [`price_${plan}`], cancel_at_period_end: opts.cancel ?? false, current_period_end: ago(-20) })
    .build();
