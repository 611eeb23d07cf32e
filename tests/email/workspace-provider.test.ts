import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { createSendingActivities } from '../../activities/sending';
import { createWorkspaceSenders } from '../../activities/workspace-senders';
import { createApiToken } from '../../db/api-tokens';
import { listAudit, verifyAuditChain } from '../../db/audit';
import { rotateKeys } from '../../db/key-rotation';
import { putEmailSettings } from '../../db/play-settings';
import { transitionDraft } from '../../db/drafts';
import { findSend, finishSend, reserveSend, senderHold, sendKeyOf } from '../../db/sends';
import { insertWorkspace } from '../../db/workspaces';
import { createSendGridSender } from '../../email/sendgrid';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { createLogger } from '../../platform/logger';
import { startEmailReceiver, type EmailReceiver } from '../../sim/email-receiver';
import type { Simulator } from '../../sim/server';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';
import { sendableDraft, simulatorReader, simulatorWithOpenInvoice } from './play-fixtures';

const OWN_KEY = 'SG.workspaceOwnKey.secretPart-1234';
const NEW_KEY = 'SG.workspaceNewKey.secretPart-5678';
const DEPLOYMENT_KEY = 'SG.deploymentDefaultKey';
const SES = { kind: 'ses', region: 'eu-west-1', accessKeyId: 'AKIAWORKSPACEOWNKEY9', secretAccessKey: 'sesSecretNeverShown/abcdef+123456' } as const;

/**
 * A workspace's own email provider, end to end: set through the API (owner only,
 * never shown or audited with its key), used for that workspace's sends (the local
 * receiver sees its SendGrid key, or its SES requests signed with its AWS key),
 * while other workspaces use the deployment's.
 */
describe("a workspace's own email provider", () => {
  const k1 = generateKeySpec('k1');
  const k2 = generateKeySpec('k2');
  const keyring = parseKeyring(k1);
  const own = 'ws_own_provider';
  const plain = 'ws_default_provider';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let receiver: EmailReceiver;
  let sim: Simulator;
  let open: Stripe.Invoice;
  let api: TestApi;
  let owner: string;
  let viewer: string;

  beforeAll(async () => {
    database = await freshDatabase();
    receiver = await startEmailReceiver();
    ({ sim, open } = await simulatorWithOpenInvoice());
    for (const id of [own, plain]) await insertWorkspace(database.db, keyring, { id, name: id, webhookSecret: `whsec_${id}` });
    owner = (await createApiToken(database.db, { workspaceId: own, role: 'owner', name: 'owner', createdBy: 'test' })).token;
    viewer = (await createApiToken(database.db, { workspaceId: own, role: 'viewer', name: 'viewer', createdBy: 'test' })).token;
    await putEmailSettings(database.db, plain, { fromEmail: 'billing@plain.test', fromName: null, replyTo: null }, 'user:test');
    api = await startApi(database.db, keyring);
  });

  afterAll(async () => {
    await api?.close();
    await receiver?.close();
    await sim?.stop();
    await database?.drop();
  });

  const put = (body: unknown) => api.request('PUT', `/workspaces/${own}/email-settings`, { token: owner, body });
  const activities = (ring = keyring) =>
    createSendingActivities({
      db: database.db,
      email: createSendGridSender({ apiKey: DEPLOYMENT_KEY, baseUrl: receiver.url }),
      senders: createWorkspaceSenders({
        db: database.db,
        keyring: ring,
        fallback: createSendGridSender({ apiKey: DEPLOYMENT_KEY, baseUrl: receiver.url }),
        endpoints: { sendgridBaseUrl: receiver.url, sesEndpoint: receiver.url },
      }),
      stripe: simulatorReader(sim),
      log: createLogger('silent', 'test'),
    });
  /** Sends a fresh draft of the workspace and returns the API key the receiver saw. */
  const sendAndSeeKey = async (acts: ReturnType<typeof activities>, workspaceId: string) => {
    const draft = await sendableDraft(database.db, workspaceId);
    const outcome = await acts.sendDraft({ draftId: draft.id, actor: 'system:test', precondition: { kind: 'invoice_open', workspaceId, invoiceId: open.id } });
    expect(outcome.kind).toBe('sent');
    expect(await findSend(database.db, sendKeyOf(draft.id))).toMatchObject({ status: 'sent', provider: 'sendgrid' });
    const seen = receiver.messages.filter((m) => m.idempotencyKey === sendKeyOf(draft.id));
    expect(seen).toHaveLength(1);
    return seen[0]!.apiKey;
  };

  it('stores a SendGrid key sealed; PUT and GET answer with its kind and last four characters only', async () => {
    const res = await put({ fromEmail: 'billing@own.test', fromName: 'Own Billing', provider: { kind: 'sendgrid', apiKey: OWN_KEY } });
    expect(res.status).toBe(200);
    // The workspace's first sender: the plays' running workflows would be woken, and none runs here.
    expect(res.body).toEqual({ emailSettings: { fromEmail: 'billing@own.test', fromName: 'Own Billing', replyTo: null, provider: { kind: 'sendgrid', keyHint: '1234' } }, workflowsNotified: 0, senderHold: null });
    const got = await api.request('GET', `/workspaces/${own}/email-settings`, { token: viewer });
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ emailSettings: (res.body as { emailSettings: object }).emailSettings, senderHold: null });
    expect(got.text).not.toContain('secretPart');
    const row = await database.db('email_settings').where({ workspace_id: own }).first<{ provider_secret_ciphertext: string }>();
    expect(row.provider_secret_ciphertext).toMatch(/^v1\.k1\./);
    expect(JSON.stringify(row)).not.toContain('secretPart');
  });

  it("sends through the workspace's own key; a workspace without one uses the deployment's", async () => {
    const acts = activities();
    expect(await sendAndSeeKey(acts, own)).toBe(OWN_KEY);
    expect(await sendAndSeeKey(acts, plain)).toBe(DEPLOYMENT_KEY);
    // Cached now, and still the right key for each.
    expect(await sendAndSeeKey(acts, own)).toBe(OWN_KEY);
  });

  it('a changed key is used from the next send, and a removed provider falls back to the deployment', async () => {
    const acts = activities();
    expect(await sendAndSeeKey(acts, own)).toBe(OWN_KEY);
    expect((await put({ fromEmail: 'billing@own.test', provider: { kind: 'sendgrid', apiKey: NEW_KEY } })).status).toBe(200);
    expect(await sendAndSeeKey(acts, own)).toBe(NEW_KEY);
    // Without `provider` the stored one stays.
    const kept = await put({ fromEmail: 'billing@own.test', fromName: 'Renamed' });
    expect(kept.body).toMatchObject({ emailSettings: { fromName: 'Renamed', provider: { kind: 'sendgrid', keyHint: '5678' } } });
    expect(await sendAndSeeKey(acts, own)).toBe(NEW_KEY);
    const removed = await put({ fromEmail: 'billing@own.test', provider: null });
    expect(removed.body).toMatchObject({ emailSettings: { provider: null } });
    expect(await database.db('email_settings').where({ workspace_id: own }).first()).toMatchObject({ provider_kind: null, provider_secret_ciphertext: null, provider_key_hint: null });
    expect(await sendAndSeeKey(acts, own)).toBe(DEPLOYMENT_KEY);
  });

  it('after a key rotation the re-sealed key still sends, with senders holding the new ring', async () => {
    expect((await put({ fromEmail: 'billing@own.test', provider: { kind: 'sendgrid', apiKey: OWN_KEY } })).status).toBe(200);
    const ring = parseKeyring(`${k2},${k1}`);
    const acts = activities(ring);
    expect(await sendAndSeeKey(acts, own)).toBe(OWN_KEY);
    await rotateKeys(database.db, ring, { actor: 'test' });
    const row = await database.db('email_settings').where({ workspace_id: own }).first<{ provider_secret_ciphertext: string }>();
    expect(row.provider_secret_ciphertext).toMatch(/^v1\.k2\./);
    expect(await sendAndSeeKey(acts, own)).toBe(OWN_KEY);
    // Only k2 is needed from now on.
    expect(await sendAndSeeKey(activities(parseKeyring(k2)), own)).toBe(OWN_KEY);
  });

  it('shows the emails held because the provider refused the sender, until they go out', async () => {
    // The workspace's key is sealed with k2 since the rotation above.
    const acts = activities(parseKeyring(`${k2},${k1}`));
    const hold = async () => {
      const got = await api.request('GET', `/workspaces/${own}/email-settings`, { token: viewer });
      expect(got.status).toBe(200);
      return (got.body as { senderHold: unknown }).senderHold;
    };
    const held = [await sendableDraft(database.db, own), await sendableDraft(database.db, own), await sendableDraft(database.db, own)];
    const before = Date.now();
    // The workspace's SendGrid account has verified another address than its from-address.
    receiver.verifiedSenders(['billing@verified.test']);
    try {
      for (const d of held) expect(await acts.sendDraft({ draftId: d.id, actor: 'system:test', waitForSender: true })).toMatchObject({ kind: 'no_sender' });
      // A held draft discarded since waits for nothing; a refusal of the message itself is no hold either.
      await transitionDraft(database.db, held[2]!.id, { to: 'discarded', actor: 'user:test' });
      const rejected = await sendableDraft(database.db, own, { to: 'not-an-address' });
      expect(await acts.sendDraft({ draftId: rejected.id, actor: 'system:test', waitForSender: true })).toMatchObject({ kind: 'failed' });
      expect(await hold()).toEqual({ drafts: 2, provider: 'sendgrid', lastRefusedAt: expect.any(String) as unknown, error: expect.stringMatching(/^SendGrid 403: from: The from address does not match a verified Sender Identity/) as unknown });
      expect(Date.parse(((await hold()) as { lastRefusedAt: string }).lastRefusedAt)).toBeGreaterThanOrEqual(before - 1000);
      // Each held draft says so when read, with the provider's words.
      const read = await api.request('GET', `/workspaces/${own}/drafts/${held[0]!.id}`, { token: viewer });
      expect(read.body).toMatchObject({ sending: { status: 'retry', heldForSender: true, senderRefusedAt: expect.any(String) as unknown, error: expect.stringMatching(/^SendGrid 403: from: The from address does not match/) as unknown } });
      // Another workspace's sends are its own.
      expect(await senderHold(database.db, plain)).toBeNull();
      // Held now for want of a from-address, a draft is no longer explained by the refusal.
      const settings = await database.db('email_settings').where({ workspace_id: own }).first<Record<string, unknown>>();
      await database.db('email_settings').where({ workspace_id: own }).delete();
      expect(await acts.sendDraft({ draftId: held[0]!.id, actor: 'system:test', waitForSender: true })).toMatchObject({ kind: 'no_sender', error: expect.stringMatching(/no from-address/) as unknown });
      expect(await hold()).toMatchObject({ drafts: 1 });
      await database.db('email_settings').insert(settings);
      expect(await acts.sendDraft({ draftId: held[0]!.id, actor: 'system:test', waitForSender: true })).toMatchObject({ kind: 'no_sender' });
      expect(await hold()).toMatchObject({ drafts: 2 });
      // Saving the settings answers with the hold as it stands: the woken plays retry after the answer.
      expect((await put({ fromEmail: 'billing@own.test' })).body).toMatchObject({ senderHold: { drafts: 2 } });
    } finally {
      receiver.verifiedSenders(null);
    }
    // The provider takes the sender now: the next tries send, and nothing is held.
    for (const d of held.slice(0, 2)) expect(await acts.sendDraft({ draftId: d.id, actor: 'system:test', waitForSender: true })).toMatchObject({ kind: 'sent' });
    expect(await hold()).toBeNull();

    // A provider's long refusal is cut short on the page, and ARNs kept by a row written before SES's words were cut are cut there.
    const ses = await sendableDraft(database.db, own);
    const key = sendKeyOf(ses.id);
    await reserveSend(database.db, { workspaceId: own, draftId: ses.id, idempotencyKey: key, provider: 'ses', toAddress: 'jo@customer.test' });
    await finishSend(database.db, key, { status: 'retry', error: `SES 403 AccessDeniedException: User: arn:aws:iam::123456789012:user/mailer is not authorized ${'x'.repeat(600)}`, senderRefused: true });
    const shown = (await hold()) as { provider: string; error: string };
    expect(shown.provider).toBe('ses');
    expect(shown.error).toMatch(/^SES 403 AccessDeniedException: User: arn:aws:iam:… is not authorized x+…$/);
    expect(shown.error.length).toBe(501);
    const draftRead = await api.request('GET', `/workspaces/${own}/drafts/${ses.id}`, { token: viewer });
    expect(draftRead.text).not.toContain('123456789012');
    expect(draftRead.body).toMatchObject({ sending: { heldForSender: true, error: expect.stringMatching(/^SES 403 AccessDeniedException: User: arn:aws:iam:… is not/) as unknown } });
    await transitionDraft(database.db, ses.id, { to: 'discarded', actor: 'user:test' });
  });

  it('stores SES credentials and shows the region and the access key id hint only', async () => {
    const res = await put({ fromEmail: 'billing@own.test', provider: SES });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ emailSettings: { provider: { kind: 'ses', region: 'eu-west-1', keyHint: 'KEY9' } } });
    const got = await api.request('GET', `/workspaces/${own}/email-settings`, { token: viewer });
    expect(got.body).toEqual({ emailSettings: (res.body as { emailSettings: object }).emailSettings, senderHold: null });
    expect(got.text).not.toContain(SES.secretAccessKey);
    expect(got.text).not.toContain(SES.accessKeyId);
  });

  it("sends through the workspace's own SES account, signed with its key, and holds its drafts while SES refuses the key", async () => {
    // The receiver checks each signature with the secret: only the unsealed credentials pass.
    receiver.sesCredentials({ [SES.accessKeyId]: SES.secretAccessKey });
    const acts = activities(parseKeyring(`${k2},${k1}`));
    const draft = await sendableDraft(database.db, own);
    expect(await acts.sendDraft({ draftId: draft.id, actor: 'system:test', waitForSender: true })).toMatchObject({ kind: 'sent' });
    const seen = receiver.sesMessages.filter((m) => m.idempotencyKey === sendKeyOf(draft.id));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ accessKeyId: SES.accessKeyId, region: 'eu-west-1', from: { email: 'billing@own.test' }, to: ['jo@customer.test'], subject: 'Your payment did not go through' });
    expect(await findSend(database.db, sendKeyOf(draft.id))).toMatchObject({ status: 'sent', provider: 'ses', providerMessageId: seen[0]!.messageId });
    expect(receiver.messages.some((m) => m.idempotencyKey === sendKeyOf(draft.id))).toBe(false);

    const held = await sendableDraft(database.db, own);
    receiver.denySesAccess(true);
    try {
      expect(await acts.sendDraft({ draftId: held.id, actor: 'system:test', waitForSender: true })).toMatchObject({ kind: 'no_sender' });
      const got = await api.request('GET', `/workspaces/${own}/email-settings`, { token: viewer });
      const hold = (got.body as { senderHold: { drafts: number; provider: string; error: string } }).senderHold;
      expect(hold).toMatchObject({ drafts: 1, provider: 'ses' });
      expect(hold.error).toMatch(/^SES 403 AccessDeniedException: User: arn:aws:iam:… is not authorized to perform: ses:SendEmail on resource: arn:aws:ses:… because/);
      expect(got.text).not.toContain('123456789012');
    } finally {
      receiver.denySesAccess(false);
    }
    expect(await acts.sendDraft({ draftId: held.id, actor: 'system:test', waitForSender: true })).toMatchObject({ kind: 'sent' });
    expect(receiver.sesMessages.filter((m) => m.idempotencyKey === sendKeyOf(held.id))).toHaveLength(1);
  });

  it('audits every change with the kind and hint, never the key', async () => {
    const entries = await listAudit(database.db, own, { action: 'email_settings.updated' });
    expect(entries.length).toBeGreaterThanOrEqual(6);
    const dump = JSON.stringify(entries);
    for (const secret of [OWN_KEY, NEW_KEY, 'secretPart', SES.secretAccessKey, SES.accessKeyId]) expect({ secret, found: dump.includes(secret) }).toEqual({ secret, found: false });
    const [latest] = entries;
    expect(latest?.actor).toMatch(/^token:/);
    expect(latest).toMatchObject({ targetType: 'email_settings', targetId: own, after: { provider: { kind: 'ses', keyHint: 'KEY9', region: 'eu-west-1' } } });
    expect(entries.some((e) => (e.before as { provider: unknown } | null)?.provider !== null && (e.after as { provider: unknown }).provider === null)).toBe(true);
    expect(await verifyAuditChain(database.db, own)).toBeNull();
  });

  it.each([
    [{ kind: 'sendgrid' }, 'provider.apiKey'],
    [{ kind: 'mailgun', apiKey: 'key-abcdefgh' }, 'provider.kind'],
    [{ kind: 'sendgrid', apiKey: 'SG.has a space in it' }, 'provider.apiKey'],
    [{ kind: 'sendgrid', apiKey: 'SG.valid-looking-key', region: 'eu-west-1' }, 'region'],
    [{ ...SES, region: 'Europe' }, 'provider.region'],
    [{ ...SES, accessKeyId: 'akia-lower' }, 'provider.accessKeyId'],
    [{ ...SES, secretAccessKey: undefined }, 'provider.secretAccessKey'],
    ['SG.just-a-string', 'provider'],
  ])('refuses provider %j with a 400 naming %s, and echoes no key', async (provider, field) => {
    const res = await put({ fromEmail: 'billing@own.test', provider });
    expect(res.status).toBe(400);
    expect(res.text).toContain(field);
    expect(res.text).not.toContain('valid-looking-key');
    expect(res.text).not.toContain(SES.secretAccessKey);
  });

  it('only owners may set it', async () => {
    const res = await api.request('PUT', `/workspaces/${own}/email-settings`, { token: viewer, body: { fromEmail: 'billing@own.test', provider: { kind: 'sendgrid', apiKey: OWN_KEY } } });
    expect(res.status).toBe(403);
    expect(await database.db('email_settings').where({ workspace_id: own }).first()).toMatchObject({ provider_kind: 'ses' });
  });
});
