import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSesSender } from '../../email/ses';
import { EmailSendError, type EmailMessage } from '../../email/sender';
import { startEmailReceiver, type EmailReceiver } from '../../sim/email-receiver';
import { message } from './message';

const KEY = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

/**
 * The SES adapter (@aws-sdk/client-sesv2, SES API v2 over restJson1 with SigV4)
 * against the local receiver, which answers SendEmail as SES does.
 */
describe('SES adapter and the local receiver', () => {
  let receiver: EmailReceiver;
  beforeAll(async () => {
    receiver = await startEmailReceiver();
    // Every request's signature is checked with the key's secret, as SES does.
    receiver.sesCredentials({ [KEY.accessKeyId]: KEY.secretAccessKey });
  });
  afterAll(async () => {
    await receiver?.close();
  });
  const sender = (credentials = KEY) => createSesSender({ region: 'eu-west-1', endpoint: receiver.url, credentials });
  const refusal = async (m: EmailMessage, s = sender()) => {
    const err = await s.send(m).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmailSendError);
    return err as EmailSendError;
  };

  it('delivers a signed SendEmail request the receiver accepts, carrying the ledger key in a header and tags', async () => {
    const before = receiver.sesMessages.length;
    const accepted = await sender().send(message());
    expect(receiver.sesMessages).toHaveLength(before + 1);
    const got = receiver.sesMessages[before]!;
    expect(accepted.providerMessageId).toBe(got.messageId);
    expect(got.messageId).toMatch(/^[0-9a-f]{16}-[0-9a-f-]{36}-000000$/);
    expect(got).toMatchObject({ accessKeyId: KEY.accessKeyId, region: 'eu-west-1' });
    expect(got.from).toEqual({ email: 'billing@acme.test', name: 'Acme Billing' });
    expect(got.to).toEqual(['jo@customer.test']);
    expect(got.replyTo).toEqual(['help@acme.test']);
    expect(got.subject).toBe('Your payment did not go through');
    expect({ text: got.text, html: got.html }).toEqual({ text: 'Hello', html: '<p>Hello</p>' });
    expect(got.headers).toEqual({ 'X-Wysera-Idempotency-Key': 'draft:11111111-1111-1111-1111-111111111111' });
    expect(got.idempotencyKey).toBe('draft:11111111-1111-1111-1111-111111111111');
    // Tag values take no colon.
    expect(got.tags).toEqual({ wysera_idempotency_key: 'draft_11111111-1111-1111-1111-111111111111', wysera_play: 'dunning' });
    expect(got.body.Content.Simple?.Subject.Charset).toBe('UTF-8');
  });

  it('names the configuration set that records its events, when the deployment has one', async () => {
    const before = receiver.sesMessages.length;
    await createSesSender({ region: 'eu-west-1', endpoint: receiver.url, credentials: KEY, configurationSet: 'wysera-events' }).send(message());
    expect(receiver.sesMessages[before]?.body.ConfigurationSetName).toBe('wysera-events');
    expect(receiver.sesMessages[before - 1]?.body.ConfigurationSetName).toBeUndefined();
  });

  it('sends display names beyond ASCII so that they arrive as written', async () => {
    const before = receiver.sesMessages.length;
    const long = 'Zoë’s Café — Abrechnung und Zahlungserinnerungen für Kunden';
    await sender().send(message({ from: { email: 'billing@acme.test', name: 'Zoë’s Café' }, to: { email: 'jo@customer.test', name: long } }));
    const got = receiver.sesMessages[before]!;
    expect(got.from).toEqual({ email: 'billing@acme.test', name: 'Zoë’s Café' });
    // A name too long for one encoded-word goes as several, each within RFC 2047's 75 characters.
    const to = got.body.Destination?.ToAddresses?.[0] ?? '';
    expect(to.split(' ').length).toBeGreaterThan(2);
    for (const word of to.split(' ').slice(0, -1)) expect(word.length).toBeLessThanOrEqual(75);
    expect(to).toMatch(/^[\x20-\x7e]+$/);
    // A domain beyond ASCII goes in its Punycode form, which SES takes.
    await sender().send(message({ to: { email: 'jo@bücher.example' } }));
    expect(receiver.sesMessages.at(-1)!.body.Destination?.ToAddresses).toEqual(['jo@xn--bcher-kva.example']);
    // Quotes and backslashes in an ASCII name cannot break out of its quoted string.
    await sender().send(message({ from: { email: 'billing@acme.test', name: 'Acme "Billing" \\ Team' } }));
    expect(receiver.sesMessages.at(-1)!.from.name).toBe('Acme Billing  Team');
  });

  it('reports 429 and 5xx as retryable, with the names SES gives them, without recording a message', async () => {
    const before = receiver.sesMessages.length;
    for (const [status, name] of [
      [429, 'TooManyRequestsException'],
      [500, 'InternalFailure'],
      [503, 'ServiceUnavailable'],
    ] as const) {
      receiver.failNext(1, status);
      const err = await refusal(message());
      expect(err).toMatchObject({ status, retryable: true, senderRefused: false });
      expect(err.message).toMatch(new RegExp(`^SES ${status} ${name}: `));
    }
    expect(receiver.sesMessages.length).toBe(before);
  });

  it("reports an unverified from-address as SES's 400 MessageRejected: permanent, and not a refusal of the sender", async () => {
    const before = receiver.sesMessages.length;
    receiver.verifiedSenders(['billing@verified.test']);
    try {
      const unverified = await refusal(message());
      expect(unverified).toMatchObject({ status: 400, retryable: false, senderRefused: false });
      expect(unverified.message).toBe('SES 400 MessageRejected: Email address is not verified. The following identities failed the check in region EU-WEST-1: "Acme Billing" <billing@acme.test>, billing@acme.test');
      await expect(sender().send(message({ from: { email: 'Billing@Verified.test' } }))).resolves.toMatchObject({ providerMessageId: expect.any(String) as unknown });
    } finally {
      receiver.verifiedSenders(null);
    }
    expect(receiver.sesMessages.length).toBe(before + 1);
  });

  it('reports a malformed recipient as a permanent BadRequestException', async () => {
    const rejected = await refusal(message({ to: { email: 'not-an-address' } }));
    expect(rejected).toMatchObject({ status: 400, retryable: false, senderRefused: false });
    expect(rejected.message).toBe("SES 400 BadRequestException: Missing final '@domain'");
  });

  it('reports a key without permission to send and a paused account as refusals of the sender', async () => {
    const before = receiver.sesMessages.length;
    receiver.denySesAccess(true);
    try {
      const denied = await refusal(message());
      expect(denied).toMatchObject({ status: 403, retryable: false, senderRefused: true });
      // The identities' ARNs are cut to their service: the message reaches the ledger, the audit log and every member.
      expect(denied.message).toMatch(/^SES 403 AccessDeniedException: User: arn:aws:iam:… is not authorized to perform: ses:SendEmail on resource: arn:aws:ses:… because/);
      expect(denied.message).not.toMatch(/\d{12}/);
    } finally {
      receiver.denySesAccess(false);
    }
    receiver.pauseSesSending(true);
    try {
      const paused = await refusal(message());
      expect(paused).toMatchObject({ status: 400, retryable: false, senderRefused: true });
      expect(paused.message).toMatch(/^SES 400 SendingPausedException: Sending is paused for this account/);
    } finally {
      receiver.pauseSesSending(false);
    }
    expect(receiver.sesMessages.length).toBe(before);
    await expect(sender().send(message())).resolves.toMatchObject({ providerMessageId: expect.any(String) as unknown });
  });

  it('refuses a wrong secret and an unknown key as SES does: 403s that refuse the sender', async () => {
    const wrongSecret = await refusal(message(), sender({ ...KEY, secretAccessKey: 'not/the/secret/of/this/key/at/all' }));
    expect(wrongSecret).toMatchObject({ status: 403, retryable: false, senderRefused: true });
    expect(wrongSecret.message).toMatch(/^SES 403 InvalidSignatureException: The request signature we calculated does not match/);
    const unknown = await refusal(message(), sender({ accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: KEY.secretAccessKey }));
    expect(unknown).toMatchObject({ status: 403, senderRefused: true });
    expect(unknown.message).toBe('SES 403 UnrecognizedClientException: The security token included in the request is invalid.');
  });

  describe('on the wire', () => {
    const post = (body: unknown, headers: Record<string, string>) =>
      fetch(`${receiver.url}/v2/email/outbound-emails`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    // Present and well-formed; its signature is only checked while the receiver knows the keys' secrets.
    const signed = { authorization: `AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/eu-west-1/ses/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}` };

    it('refuses an unsigned request with 403 MissingAuthenticationTokenException', async () => {
      const res = await post({}, {});
      expect(res.status).toBe(403);
      expect(res.headers.get('x-amzn-errortype')).toMatch(/^MissingAuthenticationTokenException:/);
      expect(await res.json()).toEqual({ message: 'Missing Authentication Token' });
    });

    it('answers a body without the required members with 400 BadRequestException naming each', async () => {
      receiver.sesCredentials(null);
      try {
        const res = await post({ FromEmailAddress: 'a@b.test', Destination: { ToAddresses: ['c@d.test'] }, Content: { Simple: { Subject: {}, Body: { Text: { Data: 7 } } } }, EmailTags: [{ Name: 'x' }] }, signed);
        expect(res.status).toBe(400);
        expect(res.headers.get('x-amzn-errortype')).toMatch(/^BadRequestException:/);
        const { message: text } = (await res.json()) as { message: string };
        expect(text).toMatch(/^3 validation errors detected: /);
        expect(text).toContain("Value null at 'content.simple.subject.data' failed to satisfy constraint: Member must not be null");
        expect(text).toContain("Value at 'content.simple.body.text.data' failed to satisfy constraint: Member must be a string");
        expect(text).toContain("Value null at 'emailTags.0.value'");
        const noContent = await post({ FromEmailAddress: 'a@b.test' }, signed);
        expect(((await noContent.json()) as { message: string }).message).toBe("1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null");
        const noRecipient = await post({ FromEmailAddress: 'a@b.test', Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 't' } } } } }, signed);
        expect(noRecipient.status).toBe(400);
        expect(((await noRecipient.json()) as { message: string }).message).toMatch(/^Destination must contain at least one of ToAddresses/);
      } finally {
        receiver.sesCredentials({ [KEY.accessKeyId]: KEY.secretAccessKey });
      }
    });

    it('lists SES messages beside SendGrid ones, by ledger key', async () => {
      await sender().send(message({ idempotencyKey: 'draft:22222222-2222-2222-2222-222222222222' }));
      const res = await fetch(`${receiver.url}/_receiver/messages?idempotency_key=draft:22222222-2222-2222-2222-222222222222`);
      const listed = (await res.json()) as { messages: unknown[]; sesMessages: { to: string[] }[] };
      expect(listed.messages).toEqual([]);
      expect(listed.sesMessages.map((m) => m.to)).toEqual([['jo@customer.test']]);
    });
  });

  it('reports no credentials to sign with as a refusal of the sender, not an outage', async () => {
    // What the SDK's credential chain raises when it finds none (@smithy/property-provider's CredentialsProviderError).
    const none = () => Promise.reject(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    const err = await createSesSender({ region: 'eu-west-1', endpoint: receiver.url, credentials: none }).send(message()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmailSendError);
    // It may pass by itself (an instance's role being fetched): retryable where a play cannot wait for its sender.
    expect(err).toMatchObject({ retryable: true, senderRefused: true, status: null });
    expect((err as EmailSendError).message).toBe('SES: no AWS credentials to sign with: Could not load credentials from any providers');
  });

  it('reports an unreachable endpoint as retryable', async () => {
    const gone = createSesSender({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', credentials: KEY });
    const err = await gone.send(message()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmailSendError);
    expect((err as EmailSendError).retryable).toBe(true);
    expect((err as EmailSendError).status).toBeNull();
  });
});
