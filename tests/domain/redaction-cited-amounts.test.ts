import { describe, expect, it } from 'vitest';
import { CHURN_INTERVENTIONS, DEFAULT_CHURN_TEMPLATES, exampleChurnFacts, type InterventionKind } from '../../domain/churn-save';
import { DUNNING_TONES, type DunningTone } from '../../domain/dunning-schedule';
import { DEFAULT_DUNNING_TEMPLATES, EXAMPLE_DUNNING_FACTS } from '../../domain/dunning-templates';
import { DEFAULT_EXPANSION_TEMPLATES, EXPANSION_TRIGGERS, exampleExpansionFacts, type ExpansionTrigger } from '../../domain/expansion';
import { emailFacts } from '../../domain/outreach-facts';
import { HIDDEN_AMOUNT, hideCitedAmounts, printsRawAmount } from '../../domain/redaction';
import { DEFAULT_RENEWAL_TEMPLATES, exampleRenewalFacts, RENEWAL_FOLDS, type RenewalFold } from '../../domain/renewal';
import { renderTemplate, type EmailTemplate } from '../../domain/templates';

describe('hideCitedAmounts', () => {
  it('hides every amount a rendered draft cites from its facts, in subject, text and HTML', () => {
    const facts = { ...EXAMPLE_DUNNING_FACTS, plan: { name: 'Growth', monthlyValue: { amount: 129_900, currency: 'eur' } } };
    const email = renderTemplate(DEFAULT_DUNNING_TEMPLATES.firm, facts);
    expect(email.text).toContain('$99.00');
    expect(email.text).toContain('€1,299.00');
    for (const part of [email.subject, email.text, email.html]) {
      const hidden = hideCitedAmounts(part, facts);
      expect(hidden).not.toMatch(/[$€]\d/);
      expect(hidden).toContain(HIDDEN_AMOUNT);
    }
    // The rest of the text stays as written.
    expect(hideCitedAmounts(email.text, facts)).toContain(`Plan: Growth (${HIDDEN_AMOUNT} a month)`);
  });

  it('leaves text alone when the facts cite no money', () => {
    expect(hideCitedAmounts('Pay $5.00 today', { plan: { name: 'Basic' } })).toBe('Pay $5.00 today');
  });
});

describe('printsRawAmount', () => {
  const sets: [string, readonly string[], (key: string) => EmailTemplate, (key: string) => object][] = [
    ['dunning', DUNNING_TONES, (k) => DEFAULT_DUNNING_TEMPLATES[k as DunningTone], () => EXAMPLE_DUNNING_FACTS],
    ['churn', CHURN_INTERVENTIONS, (k) => DEFAULT_CHURN_TEMPLATES[k as InterventionKind], (k) => emailFacts(exampleChurnFacts(k as InterventionKind))],
    ['expansion', EXPANSION_TRIGGERS, (k) => DEFAULT_EXPANSION_TEMPLATES[k as ExpansionTrigger], (k) => exampleExpansionFacts(k as ExpansionTrigger)],
    ['renewal', RENEWAL_FOLDS, (k) => DEFAULT_RENEWAL_TEMPLATES[k as RenewalFold], (k) => emailFacts(exampleRenewalFacts(k as RenewalFold))],
  ];

  it('passes every built-in template, which writes amounts through money and compares them at most', () => {
    for (const [play, keys, builtIn, example] of sets) for (const key of keys) expect(printsRawAmount(builtIn(key), example(key)), `${play}.${key}`).toBe(false);
  });

  it('finds an amount printed bare, divided, multiplied or rounded', () => {
    const base = DEFAULT_DUNNING_TEMPLATES.firm;
    for (const printed of ['{{ invoice.amountDue.amount }}', '{{ invoice.amountDue.amount | divided_by: 100.0 | round }}', '{{ plan.monthlyValue.amount | times: 12 }}', '{{ invoice.amountDue | money | replace: ".00", "" }}']) {
      expect(printsRawAmount({ ...base, text: `${base.text}\n${printed}` }, EXAMPLE_DUNNING_FACTS), printed).toBe(true);
    }
    // A difference of two amounts, though the example's are equal (a renewal's price and list price without a discount).
    const note = DEFAULT_RENEWAL_TEMPLATES.plain;
    const saving = '{% if plan.price.amount < plan.listPrice.amount %}you save {{ plan.listPrice.amount | minus: plan.price.amount | divided_by: 100.0 }}{% endif %}';
    expect(printsRawAmount({ ...note, text: `${note.text}\n${saving}` }, emailFacts(exampleRenewalFacts('plain')))).toBe(true);
    // A currency alone tells no amount.
    expect(printsRawAmount({ ...base, text: `${base.text}\n{{ invoice.amountDue.currency | upcase }}` }, EXAMPLE_DUNNING_FACTS)).toBe(false);
  });
});
