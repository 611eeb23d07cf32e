import { describe, expect, it } from 'vitest';
import type { RiskReason, RiskReasonCode } from '../../domain/churn-risk';
import { chooseIntervention, churnConfigSchema, churnSettings, DEFAULT_CHURN_SETTINGS, DEFAULT_CHURN_TEMPLATES, EXAMPLE_CHURN_FACTS, type InterventionInput } from '../../domain/churn-save';
import { renderTemplate, templateProblems } from '../../domain/templates';

const reason = (code: RiskReasonCode, points = 20): RiskReason => ({ code, points, text: code });
const growth = { name: 'Growth', monthlyValue: { amount: 9900, currency: 'usd' } };
const starter = { name: 'Starter', monthlyPrice: { amount: 2900, currency: 'usd' } };
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
      expect(chooseIntervention(input([code, 'nps_detractor']))).toEqual({ kind: 'downgrade', planName: 'Starter', monthlyPrice: { amount: 2900, currency: 'usd' }, credit: null, bookingUrl: null, because: [code] });
    }
  });

  it('offers no downgrade that is not cheaper, or is priced in another currency', () => {
    expect(chooseIntervention(input(['cancellation_scheduled'], { planDown: null })).kind).toBe('credits');
    expect(chooseIntervention(input(['cancellation_scheduled'], { planDown: { name: 'Starter', monthlyPrice: { amount: 2900, currency: 'eur' } } })).kind).toBe('credits');
    expect(chooseIntervention(input(['cancellation_scheduled'], { planDown: { name: 'Legacy', monthlyPrice: { amount: 9900, currency: 'usd' } } })).kind).toBe('credits');
  });

  it('makes up for trouble with credits, a share of the monthly price rounded to a whole unit', () => {
    const credits = chooseIntervention(input(['support_tickets', 'no_recent_login'], { settings: { ...DEFAULT_CHURN_SETTINGS, creditPercent: 15 } }));
    // 15% of $99.00 is $14.85: offered as a round $15.
    expect(credits).toMatchObject({ kind: 'credits', credit: { amount: 1500, currency: 'usd' }, because: ['support_tickets'] });
    // 20% of ¥333 is ¥66.6 (the yen has no minor unit): ¥67. Never less than one unit.
    const credit = (amount: number, currency: string) => chooseIntervention(input(['support_tickets'], { plan: { name: 'Tiny', monthlyValue: { amount, currency } } })).credit;
    expect(credit(333, 'jpy')).toEqual({ amount: 67, currency: 'jpy' });
    expect(credit(400, 'usd')).toEqual({ amount: 100, currency: 'usd' });
    expect(credit(123_456, 'bhd')).toEqual({ amount: 25_000, currency: 'bhd' });
    // Without a price to take a share of, a call instead.
    expect(chooseIntervention(input(['support_tickets'], { plan: null }))).toMatchObject({ kind: 'success_call', because: ['support_tickets'] });
  });

  it('asks a drifting customer to a call, with the booking address when the workspace has one', () => {
    expect(chooseIntervention(input(['no_recent_login', 'logins_down', 'nps_detractor']))).toEqual({ kind: 'success_call', planName: null, monthlyPrice: null, credit: null, bookingUrl: null, because: ['no_recent_login', 'logins_down', 'nps_detractor'] });
    const booking = { ...DEFAULT_CHURN_SETTINGS, successCallUrl: 'https://cal.example.com/success' };
    expect(chooseIntervention(input(['usage_down'], { planDown: null, settings: booking }))).toMatchObject({ kind: 'success_call', bookingUrl: 'https://cal.example.com/success', because: ['usage_down'] });
  });

  it('falls back to credits, or a call without a price, when no reason points anywhere', () => {
    expect(chooseIntervention(input(['payment_failing']))).toMatchObject({ kind: 'credits', because: ['payment_failing'] });
    expect(chooseIntervention(input(['cancellation_scheduled'], { planDown: null, plan: null }))).toMatchObject({ kind: 'success_call' });
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
      expect(templateProblems(template, EXAMPLE_CHURN_FACTS), kind).toEqual([]);
    }
    const down = renderTemplate(DEFAULT_CHURN_TEMPLATES.downgrade, EXAMPLE_CHURN_FACTS);
    expect(down.text).toContain('Starter costs $29.00 a month instead of $99.00');
    expect(down.text).toContain('240 reports generated in the last 30 days');
    const credit = { ...EXAMPLE_CHURN_FACTS, intervention: { ...EXAMPLE_CHURN_FACTS.intervention, kind: 'credits' as const, credit: { amount: 1980, currency: 'usd' } } };
    expect(renderTemplate(DEFAULT_CHURN_TEMPLATES.credits, credit).subject).toBe('$19.80 of Acme Analytics credit, on us');
    const call = { ...EXAMPLE_CHURN_FACTS, intervention: { ...EXAMPLE_CHURN_FACTS.intervention, kind: 'success_call' as const, bookingUrl: 'https://cal.example.com/a?b=1&c=2' } };
    expect(renderTemplate(DEFAULT_CHURN_TEMPLATES.success_call, call).html).toContain('href="https://cal.example.com/a?b=1&amp;c=2"');
    for (const part of Object.values(down)) expect(part).not.toMatch(/risk|score|60/i);
  });
});
