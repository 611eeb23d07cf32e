import type { DunningTone } from './dunning-schedule';
import type { EmailTemplate } from './templates';

/** Money as integer minor units with its currency. */
export interface Money {
  amount: number;
  currency: string;
}

/** What a dunning draft cites about the customer; stored with the draft. */
export interface DunningFacts {
  company: { name: string };
  customer: { id: string; name: string; email: string | null; customerSince: string | null; tenureMonths: number | null };
  plan: { name: string; monthlyValue: Money } | null;
  invoice: { id: string; number: string | null; amountDue: Money; hostedUrl: string | null; nextRetryAt: string | null };
  /** Where the customer updates their payment method: the hosted invoice page or a billing-portal session. */
  payUrl: string;
  /** From product signals, when the workspace sends them. */
  usage: { summary: string } | null;
  step: { index: number; number: number; total: number; tone: DunningTone; isFinal: boolean };
}

/** Where a step stands in its dunning, as its email cites it. */
export function stepFacts(index: number, tone: DunningTone, total: number): DunningFacts['step'] {
  return { index, number: index + 1, total, tone, isFinal: index === total - 1 };
}

/** Facts of an imaginary customer, used to check a template before it is stored. */
export const EXAMPLE_DUNNING_FACTS: DunningFacts = {
  company: { name: 'Acme Analytics' },
  customer: { id: 'cus_example', name: 'Jordan Example', email: 'jordan@example.com', customerSince: '2024-03-01T00:00:00.000Z', tenureMonths: 20 },
  plan: { name: 'Growth', monthlyValue: { amount: 9900, currency: 'usd' } },
  invoice: { id: 'in_example', number: 'EX-0001', amountDue: { amount: 9900, currency: 'usd' }, hostedUrl: 'https://invoice.stripe.com/i/example', nextRetryAt: null },
  payUrl: 'https://invoice.stripe.com/i/example',
  usage: { summary: '1,240 reports generated in the last 30 days' },
  step: stepFacts(0, 'friendly', 5),
};

const intro: Record<DunningTone, { subject: string; opening: string }> = {
  friendly: {
    subject: 'Your {{ company.name }} payment did not go through',
    opening: 'A quick heads-up: the payment of {{ invoice.amountDue | money }} for your {{ company.name }} subscription did not go through. This happens (expired cards, bank checks), and it takes about 30 seconds to fix.',
  },
  helpful: {
    subject: 'Reminder: {{ invoice.amountDue | money }} due for {{ company.name }}',
    opening: 'We still have not been able to collect {{ invoice.amountDue | money }} for your {{ company.name }} subscription. Updating your card usually solves it.',
  },
  firm: {
    subject: 'Action needed: your {{ company.name }} payment of {{ invoice.amountDue | money }}',
    opening: 'Your payment of {{ invoice.amountDue | money }} is now a week overdue. Please update your payment details so your account stays active.',
  },
  urgent: {
    subject: 'Urgent: your {{ company.name }} account is at risk',
    opening: 'We have tried several times to collect {{ invoice.amountDue | money }} without success. Without a working payment method your subscription will be cancelled soon.',
  },
  final: {
    subject: 'Final notice: {{ invoice.amountDue | money }} outstanding for {{ company.name }}',
    opening: 'This is our last reminder: {{ invoice.amountDue | money }} is still unpaid and your subscription is about to end.',
  },
};

const facts = {
  html: `{% if plan %}<li>Plan: {{ plan.name }} ({{ plan.monthlyValue | money }} a month)</li>{% endif %}
{% if customer.tenureMonths > 1 %}<li>With us for {{ customer.tenureMonths }} months</li>{% endif %}
{% if usage %}<li>{{ usage.summary }}</li>{% endif %}
<li>Amount due: {{ invoice.amountDue | money }}{% if invoice.number %} (invoice {{ invoice.number }}){% endif %}</li>`,
  text: `{% if plan %}- Plan: {{ plan.name }} ({{ plan.monthlyValue | money }} a month)
{% endif %}{% if customer.tenureMonths > 1 %}- With us for {{ customer.tenureMonths }} months
{% endif %}{% if usage %}- {{ usage.summary }}
{% endif %}- Amount due: {{ invoice.amountDue | money }}{% if invoice.number %} (invoice {{ invoice.number }}){% endif %}`,
};

function template(tone: DunningTone): EmailTemplate {
  const { subject, opening } = intro[tone];
  return {
    subject,
    html: `<p>Hi {{ customer.name }},</p>
<p>${opening}</p>
<ul>
${facts.html}
</ul>
<p><a href="{{ payUrl }}">Update your payment details</a></p>
<p>Thanks,<br>The {{ company.name }} team</p>`,
    text: `Hi {{ customer.name }},

${opening}

${facts.text}

Update your payment details: {{ payUrl }}

Thanks,
The {{ company.name }} team`,
  };
}

/** The built-in template of each tone, used unless the workspace overrides it. */
export const DEFAULT_DUNNING_TEMPLATES: Record<DunningTone, EmailTemplate> = {
  friendly: template('friendly'),
  helpful: template('helpful'),
  firm: template('firm'),
  urgent: template('urgent'),
  final: template('final'),
};
