import { describe, expect, it } from 'vitest';
import { renderTemplate, TemplateError, templateProblems } from '../../domain/templates';

const facts = { plan: { name: null, period: 'month' }, customer: { name: 'Jordan' }, tags: ['a', null, 'b'] };
const subjectOf = (subject: string) => renderTemplate({ subject, html: '<p>x</p>', text: 'x' }, facts).subject;

/** A fact that is null for this customer is never printed as nothing: the render fails, and an override gives way. */
describe('templates and facts that are null', () => {
  it('refuses a null printed bare, or made text by a filter', () => {
    for (const subject of ['Your {{ plan.name }} plan', 'Your {{ plan.name | upcase }} plan', '{{ plan.name | append: " plan" }}', '{{ plan.name | truncate: 10 }}', '{{ plan.name | replace: "a", "b" }}']) {
      expect(() => subjectOf(subject), subject).toThrow(TemplateError);
    }
    expect(templateProblems({ subject: 'Your {{ plan.name | capitalize }} plan', html: 'x', text: 'x' }, facts)).toEqual([
      expect.objectContaining({ part: 'subject', message: 'capitalize: nothing here (this fact is null for this customer; put it inside {% if %}, or give it a | default first)' }),
    ]);
  });

  it('takes one guarded, or given a default, and what is not null as before', () => {
    expect(subjectOf('Your {% if plan.name %}{{ plan.name }} {% endif %}plan')).toBe('Your plan');
    expect(subjectOf("Your {{ plan.name | default: 'current' | upcase }} plan")).toBe('Your CURRENT plan');
    expect(subjectOf('{{ customer.name | upcase }}, per {{ plan.period | append: "ly" }}')).toBe('JORDAN, per monthly');
    // A list prints as liquid prints it: its nulls as nothing.
    expect(subjectOf('{{ tags }}')).toBe('ab');
  });
});
