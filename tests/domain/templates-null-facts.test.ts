import { describe, expect, it } from 'vitest';
import { renderTemplate, TemplateError, templateProblems } from '../../domain/templates';

const facts = { plan: { name: null, period: 'month' }, customer: { name: 'Jordan' }, tags: ['a', null, 'b'] };
const subjectOf = (subject: string) => renderTemplate({ subject, html: '<p>x</p>', text: 'x' }, facts).subject;

/** A fact that is null for this customer is never printed as nothing: the render fails, and an override gives way. */
describe('templates and facts that are null', () => {
  it('refuses a null printed bare, or made text by a filter', () => {
    const made = ['{{ plan.name }}', '{{ plan.name | upcase }}', '{{ plan.name | append: " plan" }}', '{{ plan.name | truncate: 10 }}', '{{ plan.name | replace: "a", "b" }}', '{{ plan.name | date: "%B" }}', '{{ plan.name | date_utc }}', '{{ plan.name | plus: 1 }}', '{{ plan.name | json }}', '{{ plan.name | size }}', '{{ plan.name | slugify }}'];
    for (const subject of made) expect(() => subjectOf(`Your ${subject} plan`), subject).toThrow(TemplateError);
    expect(templateProblems({ subject: 'Your {{ plan.name | capitalize }} plan', html: 'x', text: 'x' }, facts)).toEqual([
      expect.objectContaining({ part: 'subject', message: 'nothing to print here: this fact is null for this customer (put it inside {% if %}, or give it a | default)' }),
    ]);
  });

  it('refuses a null printed through | raw, with the same error, wherever it is printed', () => {
    const message = 'nothing to print here: this fact is null for this customer (put it inside {% if %}, or give it a | default)';
    const printedRaw = ['{{ plan.name | raw }}', '{{ plan.name | upcase | raw }}', '{% echo plan.name | raw %}', '{% cycle plan.name | raw, "b" %}', '{% liquid\necho plan.name | raw\n%}', '{% for i in (1..2) %}{% if true %}{{ plan.name | raw }}{% endif %}{% endfor %}', '{% capture c %}{{ plan.name | raw }}{% endcapture %}{{ c }}'];
    for (const html of printedRaw) {
      expect(templateProblems({ subject: 'Your plan', html, text: 'x' }, facts), html).toEqual([expect.objectContaining({ part: 'html', message })]);
      expect(templateProblems({ subject: 'Your plan', html: 'x', text: html }, facts), html).toEqual([expect.objectContaining({ part: 'text', message })]);
    }
    // Where raw is not what prints it, a null passes on as through any filter; and what is not null prints unescaped as before.
    const html = (template: string) => renderTemplate({ subject: 'Your plan', html: template, text: 'x' }, { ...facts, customer: { name: 'Jordan & Co <3' } }).html;
    expect(html("{{ plan.name | raw | default: 'current' }}")).toBe('current');
    expect(html("{% assign n = plan.name | raw %}{% if n %}{{ n }}{% else %}{{ n | default: 'none' }}{% endif %}")).toBe('none');
    expect(html('{{ customer.name | raw }}, {% echo customer.name | raw %}, {{ customer.name }}')).toBe('Jordan & Co <3, Jordan & Co <3, Jordan &amp; Co &lt;3');
  });

  it('takes one guarded, or given a default, and what is not null as before', () => {
    expect(subjectOf('Your {% if plan.name %}{{ plan.name }} {% endif %}plan')).toBe('Your plan');
    expect(subjectOf("Your {{ plan.name | default: 'current' | upcase }} plan")).toBe('Your CURRENT plan');
    // A default after other filters still stands in for the null they pass on, and an assign or an if reads it as before.
    expect(subjectOf("Your {{ plan.name | upcase | default: 'CURRENT' }} plan")).toBe('Your CURRENT plan');
    expect(subjectOf("{{ plan.name | date: '%B %e' | default: 'soon' }}")).toBe('soon');
    expect(subjectOf("{% assign n = plan.name | downcase %}{% if n contains 'pro' %}Pro{% else %}Plan{% endif %}")).toBe('Plan');
    expect(subjectOf('{{ customer.name | upcase }}, per {{ plan.period | append: "ly" }}')).toBe('JORDAN, per monthly');
    // A list prints as liquid prints it: its nulls as nothing.
    expect(subjectOf('{{ tags }}')).toBe('ab');
  });
});
