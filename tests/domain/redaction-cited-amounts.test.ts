import { describe, expect, it } from 'vitest';
import { DEFAULT_DUNNING_TEMPLATES, EXAMPLE_DUNNING_FACTS } from '../../domain/dunning-templates';
import { HIDDEN_AMOUNT, hideCitedAmounts } from '../../domain/redaction';
import { renderTemplate } from '../../domain/templates';

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
