import { describe, expect, it } from 'vitest';
import { emailFacts } from '../../domain/outreach-facts';
import { chooseFold, DEFAULT_RENEWAL_SETTINGS, DEFAULT_RENEWAL_TEMPLATES, exampleRenewalFacts, RENEWAL_FOLDS, renewalSettings } from '../../domain/renewal';
import { renderTemplate } from '../../domain/templates';

describe('renewal notes', () => {
  it('fold in a save before an upgrade, and nothing where the workspace wants no offers', () => {
    expect(chooseFold({ offers: true, atRisk: true, upgradeReady: true })).toBe('save');
    expect(chooseFold({ offers: true, atRisk: false, upgradeReady: true })).toBe('upgrade');
    expect(chooseFold({ offers: true, atRisk: false, upgradeReady: false })).toBe('plain');
    expect(chooseFold({ offers: false, atRisk: true, upgradeReady: true })).toBe('plain');
  });

  it('read invalid stored settings as the defaults', () => {
    expect(renewalSettings({ daysBefore: 500 })).toEqual(DEFAULT_RENEWAL_SETTINGS);
    expect(DEFAULT_RENEWAL_SETTINGS).toEqual({ daysBefore: 30, offers: true });
  });

  it('render each fold with the date, the price, the use and the offer, and never the risk', () => {
    const plain = renderTemplate(DEFAULT_RENEWAL_TEMPLATES.plain, emailFacts(exampleRenewalFacts('plain')));
    expect(plain.subject).toBe('Your Acme Analytics plan renews on 15 January 2027');
    expect(plain.text).toContain('Your Growth plan renews on 15 January 2027 at $990.00 per year; thank you for 23 months with Acme Analytics.');
    expect(plain.text).toContain('What your team did with Acme Analytics: 2,400 reports generated and 310 dashboards shared in the last 30 days.');
    expect(plain.text).not.toContain('renew on');
    const save = renderTemplate(DEFAULT_RENEWAL_TEMPLATES.save, emailFacts(exampleRenewalFacts('save')));
    expect(save.text).toContain('you could renew on Starter instead, at $290.00 per year, with your account and data as they are.');
    const upgrade = renderTemplate(DEFAULT_RENEWAL_TEMPLATES.upgrade, emailFacts(exampleRenewalFacts('upgrade')));
    expect(upgrade.html).toContain('you could renew on Scale, which includes 50,000 reports generated, at $2,990.00 per year.');
    for (const fold of RENEWAL_FOLDS) {
      const facts = emailFacts(exampleRenewalFacts(fold));
      expect(facts).not.toHaveProperty('risk');
      expect(renderTemplate(DEFAULT_RENEWAL_TEMPLATES[fold], facts).text).not.toMatch(/undefined|null|\n{3,}/);
    }
  });

  it('say "your plan" for a product the mirror holds no name of', () => {
    const nameless = (fold: (typeof RENEWAL_FOLDS)[number]) => {
      const facts = exampleRenewalFacts(fold);
      return emailFacts({ ...facts, plan: { ...facts.plan, name: null } });
    };
    const plain = renderTemplate(DEFAULT_RENEWAL_TEMPLATES.plain, nameless('plain'));
    expect(plain.text).toContain('Your plan renews on 15 January 2027 at $990.00 per year;');
    expect(plain.html).toContain('<p>Your plan renews on 15 January 2027 at $990.00 per year;');
    expect(renderTemplate(DEFAULT_RENEWAL_TEMPLATES.save, nameless('save')).text).toContain('If your plan is more than you need now, you could renew on Starter instead');
    for (const fold of RENEWAL_FOLDS) expect(renderTemplate(DEFAULT_RENEWAL_TEMPLATES[fold], nameless(fold)).text).not.toMatch(/ {2}|Your {2}|If {2}|undefined|null/);
  });

  it("word the other save offers: credits and a call at the workspace's address", () => {
    const base = exampleRenewalFacts('save');
    const credits = { ...base, intervention: { ...base.intervention!, kind: 'credits' as const, credit: { amount: 1_700, currency: 'usd' } } };
    expect(renderTemplate(DEFAULT_RENEWAL_TEMPLATES.save, emailFacts(credits)).text).toContain('add $17.00 of credit to your account');
    const call = { ...base, intervention: { ...base.intervention!, kind: 'success_call' as const, bookingUrl: 'https://cal.example.com/acme' } };
    expect(renderTemplate(DEFAULT_RENEWAL_TEMPLATES.save, emailFacts(call)).text).toContain('at no cost: https://cal.example.com/acme.');
  });
});
