import { describe, expect, it } from 'vitest';
import {
  analyticsSettingsSchema,
  computeCustomerMrr,
  createConverter,
  type AnalyticsSettings,
  type CustomerHistory,
  type ExchangeRate,
} from '../../domain/mrr';
import { at, CustomerBuilder } from './mrr-builder';

const settings = (overrides: Partial<AnalyticsSettings> = {}): AnalyticsSettings => ({ ...analyticsSettingsSchema.parse({}), ...overrides });

/** Movements as [time, kind, amount, MRR after]: hand-computed below for each case. */
function movements(history: CustomerHistory, s: Partial<AnalyticsSettings> = {}, rates: ExchangeRate[] = []) {
  const set = settings(s);
  return computeCustomerMrr(history, set, createConverter(set.reportingCurrency, rates)).movements.map((m) => [
    m.at.toISOString().replace(':00.000Z', '').replace('T00:00', ''),
    m.kind,
    m.amount,
    m.mrrAfter,
  ]);
}

describe('MRR of hand-computed billing histories', () => {
  it('annual plan: amount / 12, times quantity; a renewal at the same price is no movement', () => {
    const c = new CustomerBuilder('cus_annual')
      .price('annual', 120000, 'year')
      .subscription('sub_1', { items: ['annual'], current_period_end: new Date('2027-01-15T00:00:00Z') })
      .invoice('sub_1', 'paid', '2025-01-15', [{ price: 'annual', amount: 360000, quantity: 3, start: '2025-01-15', end: '2026-01-15' }])
      .invoice('sub_1', 'paid', '2026-01-15', [{ price: 'annual', amount: 360000, quantity: 3, start: '2026-01-15', end: '2027-01-15' }]);
    // 3 seats x 1,200.00 a year = 3,600.00 / 12 = 300.00 a month.
    expect(movements(c.build())).toEqual([['2025-01-15', 'new', 30000, 30000]]);
  });

  it('annual plan cancelled at period end churns when the paid year ends', () => {
    const c = new CustomerBuilder('cus_annual_churn')
      .price('annual', 120000, 'year')
      .subscription('sub_1', {
        status: 'canceled',
        cancel_at_period_end: true,
        canceled_at: new Date('2025-06-01T00:00:00Z'),
        ended_at: new Date('2026-01-15T00:00:00Z'),
      })
      .invoice('sub_1', 'paid', '2025-01-15', [{ price: 'annual', amount: 120000, start: '2025-01-15', end: '2026-01-15' }]);
    expect(movements(c.build())).toEqual([
      ['2025-01-15', 'new', 10000, 10000],
      ['2026-01-15', 'churn', -10000, 0],
    ]);
    expect(movements(c.build(), { churnTiming: 'cancellation' })).toEqual([
      ['2025-01-15', 'new', 10000, 10000],
      ['2025-06-01', 'churn', -10000, 0],
    ]);
  });

  it('weekly, daily and quarterly prices are normalised to a month', () => {
    const c = new CustomerBuilder('cus_intervals')
      .price('weekly', 1000, 'week')
      .price('daily', 100, 'day')
      .price('quarterly', 9000, 'month', { recurring_interval_count: 3 })
      .subscription('sub_w', { items: ['weekly'] })
      .subscription('sub_d', { items: ['daily'] })
      .subscription('sub_q', { items: ['quarterly'] })
      .invoice('sub_w', 'paid', '2025-01-01', [{ price: 'weekly', amount: 1000, start: '2025-01-01', end: '2025-01-08' }])
      .invoice('sub_d', 'paid', '2025-02-01', [{ price: 'daily', amount: 100, start: '2025-02-01', end: '2025-02-02' }])
      .invoice('sub_q', 'paid', '2025-03-01', [{ price: 'quarterly', amount: 9000, start: '2025-03-01', end: '2025-06-01' }]);
    // 1000 x 52 / 12 = 4333.3; 100 x 365 / 12 = 3041.7; 9000 / 3 = 3000.
    expect(movements(c.build())).toEqual([
      ['2025-01-01', 'new', 4333, 4333],
      ['2025-02-01', 'expansion', 3042, 7375],
      ['2025-03-01', 'expansion', 3000, 10375],
    ]);
  });

  it('quantity change mid-month: the proration lines date the expansion to the change', () => {
    const c = new CustomerBuilder('cus_seats')
      .price('seat', 1000)
      .subscription('sub_1', { items: ['seat'], current_period_end: new Date('2025-03-01T00:00:00Z') })
      .invoice('sub_1', 'paid', '2025-01-01', [{ price: 'seat', amount: 2000, quantity: 2, start: '2025-01-01', end: '2025-02-01' }])
      .invoice('sub_1', 'paid', '2025-02-01', [
        { price: 'seat', amount: -1097, quantity: 2, proration: true, start: '2025-01-15', end: '2025-02-01' },
        { price: 'seat', amount: 1645, quantity: 3, proration: true, start: '2025-01-15', end: '2025-02-01' },
        { price: 'seat', amount: 3000, quantity: 3, start: '2025-02-01', end: '2025-03-01' },
      ]);
    expect(movements(c.build())).toEqual([
      ['2025-01-01', 'new', 2000, 2000],
      ['2025-01-15', 'expansion', 1000, 3000],
    ]);
  });

  it('quantity change mid-month on a price sold in packages: the charge starts at what its packages cost', () => {
    // $20 per 10 seats, rounded up: 12 seats are 2 packages, 25 seats 3.
    const c = new CustomerBuilder('cus_packs')
      .price('packs', 2000, 'month', { transform_quantity: { divide_by: 10, round: 'up' } })
      .subscription('sub_1', { items: ['packs'], current_period_end: new Date('2025-03-01T00:00:00Z') })
      .invoice('sub_1', 'paid', '2025-01-01', [{ price: 'packs', amount: 4000, quantity: 12, start: '2025-01-01', end: '2025-02-01' }])
      .invoice('sub_1', 'paid', '2025-02-01', [
        { price: 'packs', amount: -2194, quantity: 12, proration: true, start: '2025-01-15', end: '2025-02-01' },
        { price: 'packs', amount: 3290, quantity: 25, proration: true, start: '2025-01-15', end: '2025-02-01' },
        { price: 'packs', amount: 6000, quantity: 25, start: '2025-02-01', end: '2025-03-01' },
      ]);
    expect(movements(c.build())).toEqual([
      ['2025-01-01', 'new', 4000, 4000],
      ['2025-01-15', 'expansion', 2000, 6000],
    ]);
  });

  it('quantity change mid-month onto a volume-tiered price: the charge starts at what its tier costs', () => {
    // Up to 20 seats at $43 each, 21 and more all at $36.55: 10 seats are $430, 25 seats $913.75.
    const tier = (upTo: number | null, unit: number) => ({ up_to: upTo, unit_amount: unit, unit_amount_decimal: null, flat_amount: null, flat_amount_decimal: null });
    const c = new CustomerBuilder('cus_tiers')
      .price('team', null, 'month', { billing_scheme: 'tiered', tiers_mode: 'volume', tiers: [tier(20, 4300), tier(null, 3655)] })
      .subscription('sub_1', { items: ['team'], current_period_end: new Date('2025-03-01T00:00:00Z') })
      .invoice('sub_1', 'paid', '2025-01-01', [{ price: 'team', amount: 43000, quantity: 10, start: '2025-01-01', end: '2025-02-01' }])
      .invoice('sub_1', 'paid', '2025-02-01', [
        // 17 of January's 31 days.
        { price: 'team', amount: -23581, quantity: 10, proration: true, start: '2025-01-15', end: '2025-02-01' },
        { price: 'team', amount: 50109, quantity: 25, proration: true, start: '2025-01-15', end: '2025-02-01' },
        { price: 'team', amount: 91375, quantity: 25, start: '2025-02-01', end: '2025-03-01' },
      ]);
    // Scaled by an average month instead, the charge would read 50109 x 30.44 / 17 = 89,717 a month.
    expect(movements(c.build())).toEqual([
      ['2025-01-01', 'new', 43000, 43000],
      ['2025-01-15', 'expansion', 48375, 91375],
    ]);
  });

  it('a coupon that expires: discounted months, then the full price as expansion', () => {
    const c = new CustomerBuilder('cus_coupon')
      .price('pro', 5000)
      .subscription('sub_1', { items: ['pro'], current_period_end: new Date('2025-05-01T00:00:00Z') })
      .monthly('sub_1', 'pro', 5000, '2025-01', 4, { discount: (i) => (i < 3 ? 1000 : 0) });
    expect(movements(c.build())).toEqual([
      ['2025-01-01', 'new', 4000, 4000],
      ['2025-04-01', 'expansion', 1000, 5000],
    ]);
  });

  it('a refund does not change MRR (the refunded invoice stays paid)', () => {
    const c = new CustomerBuilder('cus_refund')
      .price('pro', 3000)
      .subscription('sub_1', { items: ['pro'], current_period_end: new Date('2025-03-01T00:00:00Z') })
      .monthly('sub_1', 'pro', 3000, '2025-01', 2);
    const history = c.build();
    const result = computeCustomerMrr(history, settings(), createConverter('usd', []));
    expect(movements(history)).toEqual([['2025-01-01', 'new', 3000, 3000]]);
    expect(result.segments.map((s) => s.mrr)).toEqual([3000, 3000]);
  });

  it('100% off is free: the customer becomes new business when the coupon ends', () => {
    const c = new CustomerBuilder('cus_free')
      .price('pro', 5000)
      .subscription('sub_1', { items: ['pro'], current_period_end: new Date('2025-05-01T00:00:00Z') })
      .monthly('sub_1', 'pro', 5000, '2025-01', 4, { discount: (i) => (i < 2 ? 5000 : 0) });
    expect(movements(c.build())).toEqual([['2025-03-01', 'new', 5000, 5000]]);
  });

  it('reactivation: a churned customer who subscribes again', () => {
    const c = new CustomerBuilder('cus_back')
      .price('basic', 2000)
      .price('pro', 3000)
      .subscription('sub_1', { status: 'canceled', ended_at: new Date('2025-03-01T00:00:00Z'), canceled_at: new Date('2025-02-10T00:00:00Z') })
      .monthly('sub_1', 'basic', 2000, '2025-01', 2)
      .subscription('sub_2', { items: ['pro'], current_period_end: new Date('2025-08-01T00:00:00Z') })
      .monthly('sub_2', 'pro', 3000, '2025-06', 2);
    expect(movements(c.build())).toEqual([
      ['2025-01-01', 'new', 2000, 2000],
      ['2025-03-01', 'churn', -2000, 0],
      ['2025-06-01', 'reactivation', 3000, 3000],
    ]);
  });

  describe('two currencies', () => {
    const rates: ExchangeRate[] = [
      { currency: 'eur', on: '2025-01-01', rate: 1.1 },
      { currency: 'eur', on: '2025-03-01', rate: 1.2 },
      { currency: 'jpy', on: '2025-01-01', rate: 0.0067 },
    ];

    it('converts each period at the rate of its first day and keeps the original amounts', () => {
      const eur = new CustomerBuilder('cus_eur')
        .price('pro_eur', 10000, 'month', { currency: 'eur' })
        .subscription('sub_1', { currency: 'eur', items: ['pro_eur'], current_period_end: new Date('2025-04-01T00:00:00Z') })
        .monthly('sub_1', 'pro_eur', 10000, '2025-01', 3, { currency: 'eur' });
      const set = settings();
      const result = computeCustomerMrr(eur.build(), set, createConverter('usd', rates));
      // 100.00 EUR at 1.1 = 110.00 USD; from March at 1.2 = 120.00 USD: the exchange rate moved, not the customer.
      expect(result.movements.map((m) => [m.kind, m.amount, m.original])).toEqual([
        ['new', 11000, { eur: 10000 }],
        ['expansion', 1000, {}],
      ]);
    });

    it('handles zero-decimal currencies (15,000 JPY at 0.0067 = 100.50 USD)', () => {
      const jpy = new CustomerBuilder('cus_jpy')
        .price('pro_jpy', 15000, 'month', { currency: 'jpy' })
        .subscription('sub_1', { currency: 'jpy', items: ['pro_jpy'], current_period_end: new Date('2025-02-01T00:00:00Z') })
        .monthly('sub_1', 'pro_jpy', 15000, '2025-01', 1, { currency: 'jpy' });
      expect(movements(jpy.build(), {}, rates)).toEqual([['2025-01-01', 'new', 10050, 10050]]);
    });

    it('reports revenue in a currency without a stored rate as a warning, not as a wrong figure', () => {
      const gbp = new CustomerBuilder('cus_gbp')
        .price('pro_gbp', 5000, 'month', { currency: 'gbp' })
        .subscription('sub_1', { currency: 'gbp', items: ['pro_gbp'] })
        .monthly('sub_1', 'pro_gbp', 5000, '2025-01', 1, { currency: 'gbp' });
      const result = computeCustomerMrr(gbp.build(), settings(), createConverter('usd', rates));
      expect(result.movements).toEqual([]);
      expect(result.warnings).toEqual([`no exchange rate from gbp to usd: invoice in_cus_gbp_1 not counted`]);
    });
  });

  describe('an upgrade and a downgrade within the same hour', () => {
    const base = () =>
      new CustomerBuilder('cus_flip')
        .price('basic', 2000)
        .price('pro', 5000)
        .price('starter', 1000)
        .invoice('sub_1', 'paid', '2025-01-01', [{ price: 'basic', amount: 2000, start: '2025-01-01', end: '2025-02-01' }])
        .invoice('sub_1', 'paid', '2025-01-10T10:00', [
          { price: 'basic', amount: -1419, proration: true, start: '2025-01-10T10:00', end: '2025-02-01' },
          { price: 'pro', amount: 3548, proration: true, start: '2025-01-10T10:00', end: '2025-02-01' },
        ]);

    it('net to nothing when the customer ends where they started', () => {
      const c = base()
        .subscription('sub_1', { items: ['basic'], current_period_end: new Date('2025-02-01T00:00:00Z') })
        .invoice('sub_1', 'paid', '2025-01-10T10:40', [
          { price: 'pro', amount: -3500, proration: true, start: '2025-01-10T10:40', end: '2025-02-01' },
          { price: 'basic', amount: 1400, proration: true, start: '2025-01-10T10:40', end: '2025-02-01' },
        ]);
      expect(movements(c.build())).toEqual([['2025-01-01', 'new', 2000, 2000]]);
    });

    it('are one contraction when the customer ends lower, dated at the first change', () => {
      const c = base()
        .subscription('sub_1', { items: ['starter'], current_period_end: new Date('2025-02-01T00:00:00Z') })
        .invoice('sub_1', 'paid', '2025-01-10T10:40', [
          { price: 'pro', amount: -3500, proration: true, start: '2025-01-10T10:40', end: '2025-02-01' },
          { price: 'starter', amount: 700, proration: true, start: '2025-01-10T10:40', end: '2025-02-01' },
        ]);
      expect(movements(c.build())).toEqual([
        ['2025-01-01', 'new', 2000, 2000],
        ['2025-01-10T10:00', 'contraction', -1000, 1000],
      ]);
    });

    it('are two movements when they are more than the grouping window apart', () => {
      const c = base()
        .subscription('sub_1', { items: ['starter'], current_period_end: new Date('2025-02-01T00:00:00Z') })
        .invoice('sub_1', 'paid', '2025-01-10T12:00', [
          { price: 'pro', amount: -3400, proration: true, start: '2025-01-10T12:00', end: '2025-02-01' },
          { price: 'starter', amount: 680, proration: true, start: '2025-01-10T12:00', end: '2025-02-01' },
        ]);
      expect(movements(c.build())).toEqual([
        ['2025-01-01', 'new', 2000, 2000],
        ['2025-01-10T10:00', 'expansion', 3000, 5000],
        ['2025-01-10T12:00', 'contraction', -4000, 1000],
      ]);
    });
  });

  describe('past due, then churned', () => {
    const history = (marchStatus: string) =>
      new CustomerBuilder('cus_pastdue')
        .price('pro', 4000)
        .subscription('sub_1', { status: 'canceled', ended_at: new Date('2025-03-20T00:00:00Z'), canceled_at: new Date('2025-03-20T00:00:00Z') })
        .monthly('sub_1', 'pro', 4000, '2025-01', 3, { status: (i) => (i === 2 ? marchStatus : 'paid') })
        .build();

    it('counts the unpaid period until the subscription ends when open invoices count until voided', () => {
      expect(movements(history('open'))).toEqual([
        ['2025-01-01', 'new', 4000, 4000],
        ['2025-03-20', 'churn', -4000, 0],
      ]);
    });

    it('counts the unpaid period for the grace days only', () => {
      expect(movements(history('open'), { pastDueGraceDays: 7 })).toEqual([
        ['2025-01-01', 'new', 4000, 4000],
        ['2025-03-08', 'churn', -4000, 0],
      ]);
    });

    it('dates the churn to the start of the unpaid period once the invoice is uncollectible or void', () => {
      for (const status of ['uncollectible', 'void']) {
        expect(movements(history(status))).toEqual([
          ['2025-01-01', 'new', 4000, 4000],
          ['2025-03-01', 'churn', -4000, 0],
        ]);
      }
    });

    it('a still-running past-due subscription keeps counting within the grace period only', () => {
      const c = new CustomerBuilder('cus_late')
        .price('pro', 4000)
        .subscription('sub_1', { status: 'past_due', items: ['pro'], current_period_end: new Date('2025-04-01T00:00:00Z') })
        .monthly('sub_1', 'pro', 4000, '2025-01', 3, { status: (i) => (i === 2 ? 'open' : 'paid') });
      expect(movements(c.build())).toEqual([
        ['2025-01-01', 'new', 4000, 4000],
        ['2025-04-01', 'churn', -4000, 0],
      ]);
      expect(movements(c.build(), { pastDueGraceDays: 10 })).toEqual([
        ['2025-01-01', 'new', 4000, 4000],
        ['2025-03-11', 'churn', -4000, 0],
      ]);
    });
  });

  it('a customer with two subscriptions: the second is expansion, losing one is contraction', () => {
    const c = new CustomerBuilder('cus_two')
      .price('basic', 3000)
      .price('annual', 24000, 'year')
      .subscription('sub_1', { status: 'canceled', ended_at: new Date('2025-04-01T00:00:00Z'), canceled_at: new Date('2025-03-15T00:00:00Z') })
      .monthly('sub_1', 'basic', 3000, '2025-01', 3)
      .subscription('sub_2', { items: ['annual'], current_period_end: new Date('2026-02-15T00:00:00Z') })
      .invoice('sub_2', 'paid', '2025-02-15', [{ price: 'annual', amount: 24000, start: '2025-02-15', end: '2026-02-15' }]);
    expect(movements(c.build())).toEqual([
      ['2025-01-01', 'new', 3000, 3000],
      ['2025-02-15', 'expansion', 2000, 5000],
      ['2025-04-01', 'contraction', -3000, 2000],
    ]);
  });

  it('a trial is not MRR: the customer is new when the first paid period starts', () => {
    const c = new CustomerBuilder('cus_trial')
      .price('pro', 3000)
      .subscription('sub_1', { items: ['pro'], trial_start: new Date('2025-01-01T00:00:00Z'), trial_end: new Date('2025-01-15T00:00:00Z'), current_period_end: new Date('2025-03-15T00:00:00Z') })
      .invoice('sub_1', 'paid', '2025-01-01', [{ price: 'pro', amount: 0, start: '2025-01-01', end: '2025-01-15' }])
      .monthly('sub_1', 'pro', 3000, '2025-01', 2, { day: 15 });
    expect(movements(c.build())).toEqual([['2025-01-15', 'new', 3000, 3000]]);
  });

  it('one-time charges and invoice items are not MRR; metered usage only when the setting says so', () => {
    const c = new CustomerBuilder('cus_extras')
      .price('pro', 5000)
      .price('onboarding', 10000, null)
      .price('api', null, 'month', { recurring_usage_type: 'metered' })
      .subscription('sub_1', { items: ['pro', 'api'], current_period_end: new Date('2025-02-01T00:00:00Z') })
      .invoice('sub_1', 'paid', '2025-01-01', [
        { price: 'pro', amount: 5000, start: '2025-01-01', end: '2025-02-01' },
        { price: 'onboarding', amount: 10000, start: '2025-01-01', end: '2025-01-01' },
        { price: 'setup_fee', amount: 20000, start: '2025-01-01', end: '2025-01-01', type: 'invoiceitem' },
        { price: 'api', amount: 1234, start: '2025-01-01', end: '2025-02-01' },
      ]);
    expect(movements(c.build())).toEqual([['2025-01-01', 'new', 5000, 5000]]);
    expect(movements(c.build(), { includeMetered: true })).toEqual([['2025-01-01', 'new', 6234, 6234]]);
  });

  it('an active subscription runs on past its last invoice, so a renewal not yet invoiced is not churn', () => {
    const c = new CustomerBuilder('cus_running')
      .price('pro', 3000)
      .subscription('sub_1', { items: ['pro'], current_period_end: new Date('2025-02-01T00:00:00Z') })
      .monthly('sub_1', 'pro', 3000, '2025-01', 1);
    const result = computeCustomerMrr(c.build(), settings(), createConverter('usd', []));
    expect(result.segments.map((s) => [s.start, s.end])).toEqual([[Date.parse('2025-01-01T00:00:00Z'), Infinity]]);
  });

  it('a renewal invoice still in draft is not churn: the paid period runs on until the renewal is final', () => {
    const c = new CustomerBuilder('cus_draft')
      .price('pro', 3000)
      .subscription('sub_1', { items: ['pro'], current_period_start: at('2025-02-01'), current_period_end: at('2025-03-01') })
      .monthly('sub_1', 'pro', 3000, '2025-01', 2, { status: (i) => (i === 1 ? 'draft' : 'paid') });
    expect(movements(c.build())).toEqual([['2025-01-01', 'new', 3000, 3000]]);
  });

  it('a subscription line without its subscription id belongs to the invoice\'s subscription', () => {
    const history = new CustomerBuilder('cus_old_api')
      .price('pro', 3000)
      .subscription('sub_1', { items: ['pro'], current_period_end: at('2025-02-01') })
      .monthly('sub_1', 'pro', 3000, '2025-01', 1)
      .build();
    const lines = history.lines.map((l) => ({ ...l, subscription_id: null }));
    expect(movements({ ...history, lines })).toEqual([['2025-01-01', 'new', 3000, 3000]]);
  });

  it('a prorated line with a percent coupon is valued at the coupon applied to the full price', () => {
    const c = new CustomerBuilder('cus_prorated_coupon')
      .price('small', 2500)
      .price('large', 4500)
      .subscription('sub_1', { items: ['large'], current_period_start: at('2026-10-27'), current_period_end: at('2026-11-27') })
      .invoice('sub_1', 'paid', '2026-10-27', [{ price: 'small', amount: 60000, quantity: 24, discount: 6000, start: '2026-10-27', end: '2026-11-27' }])
      .invoice('sub_1', 'paid', '2026-11-12T03:42', [
        { price: 'small', amount: -29087, quantity: 24, proration: true, discount: -2909, start: '2026-11-12T03:42', end: '2026-11-27' },
        // 10% of 523.56 is 52.356, invoiced as 52.36: the full price is 24 x 45.00 - 10% = 972.00.
        { price: 'large', amount: 52356, quantity: 24, proration: true, discount: 5236, start: '2026-11-12T03:42', end: '2026-11-27' },
      ]);
    expect(movements(c.build())).toEqual([
      ['2026-10-27', 'new', 54000, 54000],
      ['2026-11-12T03:42', 'expansion', 43200, 97200],
    ]);
  });

  it('an immediate cancellation churns when Stripe ends it, or at the end of the paid period, by setting', () => {
    const c = new CustomerBuilder('cus_now')
      .price('pro', 4000)
      .subscription('sub_1', { status: 'canceled', ended_at: at('2025-02-10'), canceled_at: at('2025-02-10') })
      .monthly('sub_1', 'pro', 4000, '2025-01', 2);
    expect(movements(c.build())).toEqual([
      ['2025-01-01', 'new', 4000, 4000],
      ['2025-02-10', 'churn', -4000, 0],
    ]);
    expect(movements(c.build(), { churnTiming: 'service_period_end' })).toEqual([
      ['2025-01-01', 'new', 4000, 4000],
      ['2025-03-01', 'churn', -4000, 0],
    ]);
  });

  it('an unpaid first invoice makes no paying customer; paying it does', () => {
    const unpaid = new CustomerBuilder('cus_invoiced')
      .price('pro', 4000)
      .subscription('sub_1', { items: ['pro'], current_period_start: at('2025-01-01'), current_period_end: at('2025-02-01') })
      .monthly('sub_1', 'pro', 4000, '2025-01', 1, { status: () => 'open' });
    expect(movements(unpaid.build())).toEqual([]);
    const paid = new CustomerBuilder('cus_invoiced')
      .price('pro', 4000)
      .subscription('sub_1', { items: ['pro'], current_period_start: at('2025-01-01'), current_period_end: at('2025-02-01') })
      .monthly('sub_1', 'pro', 4000, '2025-01', 1);
    expect(movements(paid.build())).toEqual([['2025-01-01', 'new', 4000, 4000]]);
  });
});

