import type { EmailMessage } from '../../email/sender';

/** One dunning email as the ledger hands it to a provider's adapter, with `over` in place of its fields. */
export const message = (over: Partial<EmailMessage> = {}): EmailMessage => ({
  from: { email: 'billing@acme.test', name: 'Acme Billing' },
  to: { email: 'jo@customer.test' },
  replyTo: { email: 'help@acme.test' },
  subject: 'Your payment did not go through',
  html: '<p>Hello</p>',
  text: 'Hello',
  idempotencyKey: 'draft:11111111-1111-1111-1111-111111111111',
  tags: { wysera_play: 'dunning' },
  ...over,
});
