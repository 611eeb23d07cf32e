import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSendGridSender } from '../../email/sendgrid';
import { EmailSendError } from '../../email/sender';
import { startEmailReceiver, type EmailReceiver } from '../../sim/email-receiver';
import { message } from './message';

/** The SendGrid adapter (@sendgrid/mail) against the local SendGrid-compatible receiver. */
describe('SendGrid adapter and the local receiver', () => {
  let receiver: EmailReceiver;
  beforeAll(async () => {
    receiver = await startEmailReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
  });
  const sender = () => createSendGridSender({ apiKey: 'SG.test-key', baseUrl: receiver.url });

  it('delivers a v3 mail-send request the receiver accepts, carrying the ledger key', async () => {
    const before = receiver.messages.length;
    const accepted = await sender().send(message());
    const got = receiver.messages[before]!;
    expect(accepted.providerMessageId).toBe(got.messageId);
    expect(got.apiKey).toBe('SG.test-key');
    expect(got.to).toEqual(['jo@customer.test']);
    expect(got.subject).toBe('Your payment did not go through');
    expect(got.body.from).toEqual({ email: 'billing@acme.test', name: 'Acme Billing' });
    expect(got.body.reply_to).toEqual({ email: 'help@acme.test' });
    expect(got.body.content?.map((c) => c.type)).toEqual(['text/plain', 'text/html']);
    expect(got.idempotencyKey).toBe('draft:11111111-1111-1111-1111-111111111111');
    expect(got.body.custom_args?.wysera_play).toBe('dunning');
  });

  it('reports 429 and 5xx as retryable, without recording a message', async () => {
    const before = receiver.messages.length;
    for (const status of [429, 500, 503]) {
      receiver.failNext(1, status);
      const err = await sender().send(message()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EmailSendError);
      expect((err as EmailSendError).retryable).toBe(true);
      expect((err as EmailSendError).status).toBe(status);
    }
    expect(receiver.messages.length).toBe(before);
  });

  it("reports a rejected message as permanent, with SendGrid's message and field", async () => {
    const err = await sender().send(message({ from: { email: 'not-an-address' } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmailSendError);
    expect((err as EmailSendError).retryable).toBe(false);
    expect((err as EmailSendError).status).toBe(400);
    expect((err as EmailSendError).message).toMatch(/from\.email: does not contain a valid address/);
  });

  it('reports a refusal of the sender itself apart from a refusal of the message', async () => {
    const rejected = (await sender().send(message({ to: { email: 'not-an-address' } })).catch((e: unknown) => e)) as EmailSendError;
    expect(rejected).toMatchObject({ status: 400, retryable: false, senderRefused: false });
    receiver.verifiedSenders(['billing@verified.test']);
    try {
      const unverified = (await sender().send(message({ from: { email: 'billing@acme.test' } })).catch((e: unknown) => e)) as EmailSendError;
      expect(unverified).toBeInstanceOf(EmailSendError);
      expect(unverified).toMatchObject({ status: 403, retryable: false, senderRefused: true });
      expect(unverified.message).toMatch(/^SendGrid 403: from: The from address does not match a verified Sender Identity/);
      await expect(sender().send(message({ from: { email: 'Billing@Verified.test' } }))).resolves.toMatchObject({ providerMessageId: expect.any(String) as unknown });
    } finally {
      receiver.verifiedSenders(null);
    }
  });

  it('answers a malformed body like SendGrid: 400 with errors naming each field', async () => {
    const res = await fetch(`${receiver.url}/v3/mail/send`, {
      method: 'POST',
      headers: { authorization: 'Bearer SG.x', 'content-type': 'application/json' },
      body: JSON.stringify({ personalizations: [{ to: [] }], from: { email: 'a@b.test' }, content: [{ type: 'text/html', value: 'x' }, { type: 'text/plain', value: 'y' }] }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { field: string | null; message: string }[] };
    const fields = body.errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['personalizations.0.to', 'subject', 'content.1.type']));
  });

  it('refuses a request without an API key with 401', async () => {
    const res = await fetch(`${receiver.url}/v3/mail/send`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errors: { message: string }[] }).errors[0]?.message).toMatch(/authorization grant is invalid/);
  });

  it('reports an unreachable provider as retryable', async () => {
    const gone = createSendGridSender({ apiKey: 'SG.x', baseUrl: 'http://127.0.0.1:9', timeoutMs: 2000 });
    const err = await gone.send(message()).catch((e: unknown) => e);
    expect((err as EmailSendError).retryable).toBe(true);
    expect((err as EmailSendError).status).toBeNull();
  });
});
