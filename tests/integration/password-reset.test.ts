import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, findLiveSession } from '../../db/sessions';
import { findOrCreateUser, findUserByEmail, setPassword } from '../../db/users';
import { createSendGridSender } from '../../email/sendgrid';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { verifyPassword } from '../../platform/passwords';
import { startEmailReceiver, type EmailReceiver } from '../../sim/email-receiver';
import { startApi, type TestApi } from '../helpers/api';
import { freshDatabase } from '../helpers/db';

/** The token in a reset email's text: its link's fragment. */
function tokenIn(text: string): string {
  const match = /\/reset-password#token=([A-Za-z0-9_-]+)/.exec(text);
  if (!match) throw new Error(`no reset link in: ${text}`);
  return match[1]!;
}

describe('password reset by email', () => {
  const keyring = parseKeyring(generateKeySpec());
  const PUBLIC_URL = 'https://wysera.example.test';
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let receiver: EmailReceiver;
  let api: TestApi;
  let off: TestApi;
  let userId: string;

  beforeAll(async () => {
    database = await freshDatabase();
    receiver = await startEmailReceiver();
    userId = (await findOrCreateUser(database.db, keyring, 'ada@reset.example', 'the old password 123')).user.id;
    const sender = createSendGridSender({ apiKey: 'SG.test', baseUrl: receiver.url });
    api = await startApi(database.db, keyring, { passwordResetMail: { sender, from: 'accounts@wysera.example.test', publicUrl: PUBLIC_URL } });
    off = await startApi(database.db, keyring);
  });

  afterAll(async () => {
    await api?.close();
    await off?.close();
    await receiver?.close();
    await database?.drop();
  });

  const latestText = () => {
    const body = receiver.messages[receiver.messages.length - 1]!.body;
    return body.content!.find((c) => c.type === 'text/plain')!.value;
  };

  it('emails a link to the public URL, whatever Host the request names, and the link sets a password once and ends every session', async () => {
    const { token: sessionToken } = await createSession(database.db, userId);
    const asked = await api.request('POST', '/auth/password-reset', { body: { email: 'ADA@reset.example' }, headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' } });
    expect(asked.status).toBe(202);
    expect(asked.text).toContain('If an account uses this email');
    const [message] = await receiver.waitForMessages(1);
    expect(message!.to).toEqual(['ada@reset.example']);
    expect(message!.subject).toBe('Set a new Wysera password');
    const text = latestText();
    expect(text).toContain(`${PUBLIC_URL}/reset-password#token=`);
    expect(text).not.toContain('evil.example');
    const token = tokenIn(text);
    // Only the token's hash is stored.
    expect(JSON.stringify(await database.db('password_resets').select('*'))).not.toContain(token);

    const weak = await api.request('POST', '/auth/password-reset/confirm', { body: { token, password: 'short' } });
    expect(weak.status).toBe(400);
    expect(weak.text).toMatch(/password/);
    const done = await api.request('POST', '/auth/password-reset/confirm', { body: { token, password: 'a brand new password 456' } });
    expect(done.status).toBe(204);
    const user = (await findUserByEmail(database.db, keyring, 'ada@reset.example'))!;
    expect(await verifyPassword('a brand new password 456', user.password)).toBe(true);
    expect(await findLiveSession(database.db, sessionToken)).toBeUndefined();
    const login = await api.request('POST', '/auth/login', { body: { email: 'ada@reset.example', password: 'a brand new password 456' } });
    expect(login.status).toBe(200);
    // Once only.
    const again = await api.request('POST', '/auth/password-reset/confirm', { body: { token, password: 'yet another password 789' } });
    expect(again.status).toBe(400);
    expect(again.text).toContain('this reset link is not valid');
    const audit = await database.db('audit_log').whereNull('workspace_id').whereIn('action', ['user.password_reset_requested', 'user.password_reset']).orderBy('id').select('action', 'actor', 'target_id');
    expect(audit).toEqual([
      { action: 'user.password_reset_requested', actor: 'system:password_reset', target_id: userId },
      { action: 'user.password_reset', actor: `user:${userId}`, target_id: userId },
    ]);
  });

  const resetsOfAda = async () => Number((await database.db('password_resets').where({ user_id: userId }).count<{ n: string }[]>({ n: '*' }))[0]!.n);

  it('answers an unknown email as a known one, and sends nothing', async () => {
    const before = receiver.requests;
    const resets = await resetsOfAda();
    const asked = await api.request('POST', '/auth/password-reset', { body: { email: 'nobody@reset.example' } });
    expect(asked.status).toBe(202);
    expect(asked.body).toEqual((await api.request('POST', '/auth/password-reset', { body: { email: 'ada@reset.example' } })).body);
    await receiver.waitForMessages(2);
    // One reset recorded (Ada's) and one email sent (hers): the unknown address made neither.
    expect(await resetsOfAda()).toBe(resets + 1);
    expect(Number((await database.db('password_resets').whereNot({ user_id: userId }).count<{ n: string }[]>({ n: '*' }))[0]!.n)).toBe(0);
    expect(receiver.requests).toBe(before + 1);
    expect(receiver.messages[receiver.messages.length - 1]!.to).toEqual(['ada@reset.example']);
  });

  it('retires older links when a new one is asked for, refuses expired and made-up tokens, and sends at most 3 an hour', async () => {
    // The link of the previous test's second request.
    const older = tokenIn(latestText());
    await api.request('POST', '/auth/password-reset', { body: { email: 'ada@reset.example' } });
    await receiver.waitForMessages(3);
    const newer = tokenIn(latestText());
    expect((await api.request('POST', '/auth/password-reset/confirm', { body: { token: older, password: 'an older link password 1' } })).status).toBe(400);
    // An hour on, the newer link has expired too.
    await database.db('password_resets').whereNull('used_at').update({ expires_at: new Date(Date.now() - 1000) });
    expect((await api.request('POST', '/auth/password-reset/confirm', { body: { token: newer, password: 'an expired link password 1' } })).status).toBe(400);
    expect((await api.request('POST', '/auth/password-reset/confirm', { body: { token: 'x'.repeat(43), password: 'a made up token password 1' } })).status).toBe(400);
    // Three links this hour already: more requests, even at once, are answered the same and make no link.
    expect(await resetsOfAda()).toBe(3);
    const more = await Promise.all([1, 2, 3].map(() => api.request('POST', '/auth/password-reset', { body: { email: 'ada@reset.example' } })));
    expect(more.map((r) => r.status)).toEqual([202, 202, 202]);
    // Each refused request logs and records nothing: give them time to have run, then count again.
    await new Promise((r) => setTimeout(r, 300));
    expect(Number((await database.db('audit_log').where({ action: 'user.password_reset_requested', target_id: userId }).count<{ n: string }[]>({ n: '*' }))[0]!.n)).toBe(3);
    expect(await resetsOfAda()).toBe(3);
  });

  it('leaves one live link when two are asked for at once, and retires it when the password is changed another way', async () => {
    const { user: bo } = await findOrCreateUser(database.db, keyring, 'bo@reset.example', 'bo has a password 123');
    const before = receiver.messages.length;
    await Promise.all([1, 2].map(() => api.request('POST', '/auth/password-reset', { body: { email: 'bo@reset.example' } })));
    await receiver.waitForMessages(before + 2);
    const live = async () => Number((await database.db('password_resets').where({ user_id: bo.id }).whereNull('used_at').count<{ n: string }[]>({ n: '*' }))[0]!.n);
    expect(await live()).toBe(1);
    await setPassword(database.db, bo.id, 'bo changed it himself 456');
    expect(await live()).toBe(0);
    const token = tokenIn(receiver.messages[receiver.messages.length - 1]!.body.content!.find((c) => c.type === 'text/plain')!.value);
    expect((await api.request('POST', '/auth/password-reset/confirm', { body: { token, password: 'a link after the change 789' } })).status).toBe(400);
  });

  it('says what is missing on a server without email, and refuses bad input naming the field', async () => {
    const res = await off.request('POST', '/auth/password-reset', { body: { email: 'ada@reset.example' } });
    expect(res.status).toBe(503);
    expect(res.text).toContain('WYSERA_PUBLIC_URL');
    const bad = await api.request('POST', '/auth/password-reset', { body: { email: 'not an email', extra: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/email/);
    expect(bad.text).toMatch(/extra/);
  });
});
