import { describe, expect, it } from 'vitest';
import { chooseExpansion, DEFAULT_EXPANSION_SETTINGS, DEFAULT_EXPANSION_TEMPLATES, EXPANSION_TRIGGERS, expansionSettings, exampleExpansionFacts, usageCited } from '../../domain/expansion';
import type { PlanMapping } from '../../domain/product-mapping';
import { renderTemplate } from '../../domain/templates';

const plan = (productId: string, planName: string, tierRank: number, limits: PlanMapping['limits']): PlanMapping => ({ productId, productName: planName, planName, tierRank, limits, monthlyAmount: null, entryBasis: null, currency: 'usd', source: 'override' });
const MAPPING = [
  plan('prod_starter', 'Starter', 1, { reports_generated: 1_000, seats: 3 }),
  plan('prod_growth', 'Growth', 2, { reports_generated: 10_000, exports: 50, seats: 10 }),
  // Same report allowance as Growth: no answer to a report limit.
  plan('prod_team', 'Team', 3, { reports_generated: 10_000, exports: 500, seats: 25 }),
  plan('prod_scale', 'Scale', 4, { reports_generated: 50_000, exports: null, seats: null }),
  plan('prod_enterprise', 'Enterprise', 5, { reports_generated: null, exports: null, seats: null }),
];
const use = (metric: string, last: number) => ({ metric, label: metric.replace(/_/g, ' '), last, previous: 0 });

describe('chooseExpansion', () => {
  it('pitches the next plan up that allows more of the metric near its limit, citing the use', () => {
    const choice = chooseExpansion({ productId: 'prod_growth', usage: [use('reports_generated', 8_600)], seats: null }, MAPPING, DEFAULT_EXPANSION_SETTINGS);
    // Team allows no more reports than Growth: Scale is the plan that answers the limit.
    expect(choice?.target.productId).toBe('prod_scale');
    expect(choice?.evidence).toEqual({ trigger: 'near_limit', metric: 'reports_generated', label: 'reports generated', used: 8_600, included: 10_000, percent: 86, targetIncluded: 50_000 });
  });

  it('takes the closest limit first, and the next plan up when it allows more', () => {
    const choice = chooseExpansion({ productId: 'prod_growth', usage: [use('reports_generated', 8_100), use('exports', 49)], seats: null }, MAPPING, DEFAULT_EXPANSION_SETTINGS);
    expect(choice?.evidence).toMatchObject({ metric: 'exports', percent: 98, targetIncluded: 500 });
    expect(choice?.target.productId).toBe('prod_team');
  });

  it('does not pitch below 80% of a limit, nor on the top plan, nor off the mapping', () => {
    expect(chooseExpansion({ productId: 'prod_growth', usage: [use('reports_generated', 7_999)], seats: null }, MAPPING, DEFAULT_EXPANSION_SETTINGS)).toBeNull();
    expect(chooseExpansion({ productId: 'prod_enterprise', usage: [use('reports_generated', 1e9)], seats: null }, MAPPING, DEFAULT_EXPANSION_SETTINGS)).toBeNull();
    expect(chooseExpansion({ productId: 'prod_unknown', usage: [use('reports_generated', 1e9)], seats: null }, MAPPING, DEFAULT_EXPANSION_SETTINGS)).toBeNull();
    expect(chooseExpansion({ productId: null, usage: [use('reports_generated', 1e9)], seats: null }, MAPPING, DEFAULT_EXPANSION_SETTINGS)).toBeNull();
  });

  it('pitches the first tier with unlimited seats to a customer who added 3 or more', () => {
    const choice = chooseExpansion({ productId: 'prod_starter', usage: [], seats: { from: 2, to: 5 } }, MAPPING, DEFAULT_EXPANSION_SETTINGS);
    expect(choice?.target.productId).toBe('prod_scale');
    expect(choice?.evidence).toEqual({ trigger: 'seats_added', from: 2, to: 5, added: 3 });
    expect(chooseExpansion({ productId: 'prod_starter', usage: [], seats: { from: 2, to: 4 } }, MAPPING, DEFAULT_EXPANSION_SETTINGS)).toBeNull();
    // The workspace's own bar.
    expect(chooseExpansion({ productId: 'prod_starter', usage: [], seats: { from: 2, to: 4 } }, MAPPING, expansionSettings({ seatsAdded: 2 }))?.evidence.trigger).toBe('seats_added');
    // Already unlimited (though Enterprise above is too), or no unlimited tier above: nothing to pitch.
    expect(chooseExpansion({ productId: 'prod_scale', usage: [], seats: { from: 2, to: 20 } }, MAPPING, DEFAULT_EXPANSION_SETTINGS)).toBeNull();
    expect(chooseExpansion({ productId: 'prod_starter', usage: [], seats: { from: 2, to: 20 } }, MAPPING.slice(0, 3), DEFAULT_EXPANSION_SETTINGS)).toBeNull();
  });

  it('writes the share of a limit used without float error', () => {
    // 1,150 / 1,000 * 100 is 114.99999999999999 in floating point.
    const over = chooseExpansion({ productId: 'prod_starter', usage: [use('reports_generated', 1_150)], seats: null }, MAPPING, DEFAULT_EXPANSION_SETTINGS);
    expect(over?.evidence).toMatchObject({ percent: 115 });
  });

  it('reads invalid stored settings as the defaults', () => {
    expect(expansionSettings({ seatsAdded: -1 })).toEqual(DEFAULT_EXPANSION_SETTINGS);
    // A cooldown shorter than the seat window would pitch the same seats again.
    expect(expansionSettings({ cooldownDays: 7, seatWindowDays: 30 })).toEqual(DEFAULT_EXPANSION_SETTINGS);
    expect(DEFAULT_EXPANSION_SETTINGS).toEqual({ cooldownDays: 90, seatsAdded: 3, seatWindowDays: 30 });
  });
});

describe('the built-in pitch templates', () => {
  it('render for each trigger, citing the use or the seats and the plan up with its price', () => {
    const near = renderTemplate(DEFAULT_EXPANSION_TEMPLATES.near_limit, exampleExpansionFacts('near_limit'));
    expect(near.subject).toBe('You are close to your reports generated limit on Acme Analytics');
    expect(near.text).toContain('In the last 30 days your team used 8,600 of the 10,000 reports generated included each month (86%) with Growth.');
    expect(near.text).toContain('Scale includes 50,000 reports generated for $299.00 per month (you pay $99.00 now).');
    const seats = renderTemplate(DEFAULT_EXPANSION_TEMPLATES.seats_added, exampleExpansionFacts('seats_added'));
    expect(seats.text).toContain('4 seats added recently, 10 in all. With Enterprise, seats are unlimited');
    expect(seats.html).toContain('for $499.00 per month (you pay $99.00 now)');
    for (const trigger of EXPANSION_TRIGGERS) expect(renderTemplate(DEFAULT_EXPANSION_TEMPLATES[trigger], exampleExpansionFacts(trigger)).text).not.toMatch(/undefined|null/);
  });

  it('says "your plan" for a product the mirror holds no name of', () => {
    const facts = exampleExpansionFacts('near_limit');
    const text = renderTemplate(DEFAULT_EXPANSION_TEMPLATES.near_limit, { ...facts, plan: { ...facts.plan!, name: null } }).text;
    expect(text).toContain('(86%) with your plan. Good to see');
  });

  it('words a use already past the limit as such', () => {
    const facts = exampleExpansionFacts('near_limit');
    const past = renderTemplate(DEFAULT_EXPANSION_TEMPLATES.near_limit, { ...facts, usage: { ...facts.usage!, summary: '210 of the 150 reports generated included each month (140%)', past: true } });
    expect(past.subject).toBe('You are past your reports generated limit on Acme Analytics');
    expect(past.text).toContain('So your team is not held back by it: Scale includes');
    expect(usageCited({ trigger: 'near_limit', metric: 'm', label: 'm', used: 151, included: 150, percent: 100, targetIncluded: null }, 30).past).toBe(true);
    expect(usageCited({ trigger: 'near_limit', metric: 'm', label: 'm', used: 150, included: 150, percent: 100, targetIncluded: null }, 30).past).toBe(false);
  });

  it('leaves the price out when the plan up has none in the customer currency and period', () => {
    const facts = exampleExpansionFacts('near_limit');
    const text = renderTemplate(DEFAULT_EXPANSION_TEMPLATES.near_limit, { ...facts, target: { ...facts.target, price: null, period: null } }).text;
    expect(text).toContain('Scale includes 50,000 reports generated.');
  });

  it('writes the cited use as a person reads it', () => {
    expect(usageCited({ trigger: 'near_limit', metric: 'api_calls', label: 'api calls', used: 123_456, included: 150_000, percent: 82, targetIncluded: null }, 30).summary).toBe('123,456 of the 150,000 api calls included each month (82%)');
  });
});
