import { describe, expect, it } from 'vitest';
import type { RiskReason, RiskReasonCode } from '../../domain/churn-risk';
import {
  chooseIntervention,
  churnConfigSchema,
  churnSettings,
  DEFAULT_CHURN_SETTINGS,
  DEFAULT_CHURN_TEMPLATES,
  EXAMPLE_CHURN_FACTS,
  exampleChurnFacts,
  factsAsShown,
  roundOffer,
  type InterventionInput,
} from '../../domain/churn-save';
import { emailFacts, periodText } from '../../domain/outreach-facts';
import { limitsUse } from '../../domain/product-activity';
import { renderTemplate, templateProblems } from '../../domain/templates';

const reason = (code: RiskReasonCode, points = 20): RiskReason => ({ code, points, text: code });
const growth = { name: 'Growth', monthlyValue: { amount: 9900, currency: 'usd' }, item: { price: { amount: 9900, currency: 'usd' }, period: 'month' } };
const starter = { name: 'Starter', price: { amount: 2900, currency: 'usd' } };
const input = (codes: RiskReasonCode[], over: Partial<InterventionInput> = {}): InterventionInput => ({
  reasons: codes.map((c) => reason(c)),
  plan: growth,
  planDown: starter,
  settings: DEFAULT_CHURN_SETTINGS,
  ...over,
});

describe('chooseIntervention', () => {
  it('offers the next plan down, with its price, to a customer paying for more than they use', () => {
    for (const code of ['cancellation_scheduled', 'partial_cancellation', 'contracted', 'usage_down'] as const) {
      expect(chooseIntervention(input([code, 'nps_detractor']))).toEqual({ kind: 'downgrade', planName: 'Starter', price: { amount: 2900, currency: 'usd' }, currentPrice: { amount: 9900, currency: 'usd' }, period: 'month', credit: null, bookingUrl: null, because: [code] });
    }
  });

  it('offers no downgrade that is not cheaper than their plan, or is priced in another currency', () => {
    expect(chooseIntervention(input(['cancellation_scheduled'], { planDown: null })).kind).toBe('success_call');
    expect(chooseIntervention(input(['cancellation_scheduled'], { planDown: { name: 'Starter', price: { amount: 2900, currency: 'eur' } } })).kind).toBe('success_call');
    expect(chooseIntervention(input(['cancellation_scheduled'], { planDown: { name: 'Legacy', price: { amount: 9900, currency: 'usd' } } })).kind).toBe('success_call');
    // Compared with the plan's own item, not the whole subscription with its add-ons.
    const withAddOns = { ...growth, monthlyValue: { amount: 19_900, currency: 'usd' } };
    expect(chooseIntervention(input(['contracted'], { plan: withAddOns, planDown: { name: 'Team', price: { amount: 12_000, currency: 'usd' } } })).kind).toBe('success_call');
  });

  it('makes up for trouble with credits, a share of the monthly price rounded to a whole unit', () => {
    const credits = chooseIntervention(input(['support_tickets', 'no_recent_login'], { settings: { ...DEFAULT_CHURN_SETTINGS, creditPercent: 15 } }));
    // 15% of $99.00 is $14.85: offered as a round $15.
    expect(credits).toMatchObject({ kind: 'credits', credit: { amount: 1500, currency: 'usd' }, because: ['support_tickets'] });
    // 20% of ¥333 is ¥66.6 (the yen has no minor unit): ¥67. Never less than one unit.
    const credit = (amount: number, currency: string) => chooseIntervention(input(['support_tickets'], { plan: { name: 'Tiny', monthlyValue: { amount, currency }, item: { price: { amount, currency }, period: 'month' } } })).credit;
    expect(credit(333, 'jpy')).toEqual({ amount: 67, currency: 'jpy' });
    expect(credit(400, 'usd')).toEqual({ amount: 100, currency: 'usd' });
    expect(credit(123_456, 'bhd')).toEqual({ amount: 25_000, currency: 'bhd' });
    // Without a price to take a share of, a call instead.
    expect(chooseIntervention(input(['support_tickets'], { plan: null }))).toMatchObject({ kind: 'success_call', because: ['support_tickets'] });
  });

  it('asks a drifting customer to a call, with the booking address when the workspace has one', () => {
    expect(chooseIntervention(input(['no_recent_login', 'logins_down', 'nps_detractor']))).toEqual({ kind: 'success_call', planName: null, price: null, currentPrice: null, period: null, credit: null, bookingUrl: null, because: ['no_recent_login', 'logins_down', 'nps_detractor'] });
    const booking = { ...DEFAULT_CHURN_SETTINGS, successCallUrl: 'https://cal.example.com/success' };
    expect(chooseIntervention(input(['usage_down'], { planDown: null, settings: booking }))).toMatchObject({ kind: 'success_call', bookingUrl: 'https://cal.example.com/success', because: ['usage_down'] });
  });

  it('falls back to a call, never credits, when no reason points anywhere', () => {
    // Credits make up for trouble; they are no answer to a card that fails.
    expect(chooseIntervention(input(['payment_failing']))).toMatchObject({ kind: 'success_call', because: ['payment_failing'] });
    expect(chooseIntervention(input(['cancellation_scheduled'], { planDown: null, plan: null }))).toMatchObject({ kind: 'success_call' });
  });

  it('names a billing period as an email would', () => {
    expect([periodText('month', 1), periodText('year', 1), periodText('month', 3)]).toEqual(['month', 'year', '3 months']);
  });

  it('rounds an offer to what a person would write', () => {
    expect([roundOffer(482, 'usd'), roundOffer(7885, 'usd'), roundOffer(123_456, 'usd'), roundOffer(396, 'jpy'), roundOffer(3, 'usd'), roundOffer(99_999, 'eur')]).toEqual([500, 7900, 120_000, 400, 100, 100_000]);
  });
});

describe('churn settings', () => {
  it('fills the defaults and refuses what is out of range, naming the field', () => {
    expect(churnSettings({})).toEqual({ threshold: 50, cooldownDays: 30, creditPercent: 20, successCallUrl: null });
    expect(churnSettings({ threshold: 0 })).toEqual(DEFAULT_CHURN_SETTINGS);
    const bad = churnConfigSchema.safeParse({ threshold: 101, successCallUrl: 'javascript:alert(1)', extra: true });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['', 'successCallUrl', 'threshold']);
  });
});

describe('churn templates', () => {
  it('render for each intervention without problems, and never cite the score', () => {
    for (const [kind, template] of Object.entries(DEFAULT_CHURN_TEMPLATES)) {
      expect(templateProblems(template, emailFacts(exampleChurnFacts(kind as keyof typeof DEFAULT_CHURN_TEMPLATES))), kind).toEqual([]);
    }
    // The facts a template renders against hold no risk: one that cites it is refused.
    expect(templateProblems({ ...DEFAULT_CHURN_TEMPLATES.credits, text: 'Your risk is {{ risk.score }}' }, emailFacts(exampleChurnFacts('credits')))[0]).toMatchObject({ part: 'text' });
    // "for 1 months" reads wrong: a first month goes unsaid.
    expect(renderTemplate(DEFAULT_CHURN_TEMPLATES.downgrade, { ...EXAMPLE_CHURN_FACTS, customer: { ...EXAMPLE_CHURN_FACTS.customer, tenureMonths: 1 } }).text).toContain('Thanks for being with Acme Analytics. If');
    const down = renderTemplate(DEFAULT_CHURN_TEMPLATES.downgrade, EXAMPLE_CHURN_FACTS);
    expect(down.text).toContain('Starter costs $29.00 per month instead of $99.00');
    expect(down.text).toContain('240 reports generated in the last 30 days');
    // A product the mirror holds no name of is "your plan".
    expect(renderTemplate(DEFAULT_CHURN_TEMPLATES.downgrade, { ...EXAMPLE_CHURN_FACTS, plan: { ...EXAMPLE_CHURN_FACTS.plan!, name: null } }).text).toContain('If your plan is more than you need right now, Starter costs');
    const credit = { ...EXAMPLE_CHURN_FACTS, intervention: { ...EXAMPLE_CHURN_FACTS.intervention, kind: 'credits' as const, credit: { amount: 1980, currency: 'usd' } } };
    expect(renderTemplate(DEFAULT_CHURN_TEMPLATES.credits, credit).subject).toBe('$19.80 of Acme Analytics credit, on us');
    const call = { ...EXAMPLE_CHURN_FACTS, intervention: { ...EXAMPLE_CHURN_FACTS.intervention, kind: 'success_call' as const, bookingUrl: 'https://cal.example.com/a?b=1&c=2' } };
    expect(renderTemplate(DEFAULT_CHURN_TEMPLATES.success_call, call).html).toContain('href="https://cal.example.com/a?b=1&amp;c=2"');
    for (const part of Object.values(down)) expect(part).not.toMatch(/risk|score|60/i);
  });
});

describe('factsAsShown', () => {
  it("folds a save's reasons from hidden fields into one, and leaves other facts alone", () => {
    const facts = { ...EXAMPLE_CHURN_FACTS, risk: { score: 40, threshold: 30, reasons: [{ code: 'nps_detractor' as const, points: 10, text: 'Gave 4 out of 10' }, { code: 'usage_down' as const, points: 30, text: 'reports down 80%' }] } };
    const shown = factsAsShown(facts, new Set(['nps']));
    expect(shown.risk).toEqual({ score: 40, threshold: 30, reasons: [{ code: 'usage_down', points: 30, text: 'reports down 80%' }, { code: 'hidden', points: 10, text: 'Reasons hidden for your role' }] });
    // The offer names the reason that chose it: hidden with it.
    expect((shown.intervention as { because: string[] }).because).toEqual(['usage_down']);
    expect((factsAsShown(facts, new Set(['usage'])).intervention as { because: string[] }).because).toEqual(['hidden']);
    // With the whole risk hidden, every reason is.
    expect((factsAsShown(facts, new Set(['risk'])).intervention as { because: string[] }).because).toEqual(['hidden']);
    expect(factsAsShown(facts, new Set())).toBe(facts);
    const dunning = { invoice: { id: 'in_1' } };
    expect(factsAsShown(dunning, new Set(['nps']))).toBe(dunning);
  });
});

describe('limitsUse', () => {
  it("reads each usage limit against the last window's use, the closest first, near from 80%", () => {
    const usage = [
      { metric: 'reports_generated', label: 'reports generated', last: 790, previous: 500 },
      { metric: 'api_calls', label: 'api calls', last: 9_000, previous: 8_000 },
      { metric: 'exports', label: 'exports', last: 3, previous: 1 },
      { metric: 'dashboards_shared', label: 'dashboards shared', last: 180, previous: 90 },
    ];
    expect(limitsUse({ reports_generated: 1_000, api_calls: 10_000, exports: null, seats: 5, dashboards_shared: 150 }, usage)).toEqual([
      { metric: 'dashboards_shared', label: 'dashboards shared', used: 180, included: 150, share: 1.2, near: true, past: true },
      { metric: 'api_calls', label: 'api calls', used: 9_000, included: 10_000, share: 0.9, near: true, past: false },
      { metric: 'reports_generated', label: 'reports generated', used: 790, included: 1_000, share: 0.79, near: false, past: false },
    ]);
    // A metric named like Object's own properties is a metric like any other, never a limit it does not have.
    expect(limitsUse({}, [{ metric: 'constructor', label: 'constructor', last: 5, previous: 0 }])).toEqual([]);
  });
});
