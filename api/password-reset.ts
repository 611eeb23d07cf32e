import { Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { appendAudit } from '../db/audit';
import type { Knex } from '../db/knex';
import { createPasswordReset, PASSWORD_RESET_TTL_MS, resetPassword } from '../db/password-resets';
import { findUserByEmail } from '../db/users';
import type { EmailSender } from '../email/sender';
import type { Keyring } from '../platform/crypto';
import { passwordSchema } from '../platform/passwords';
import { HttpError, parseOr400 } from './errors';
import { passwordResetLimit } from './hardening';

/**
 * Forgotten passwords (docs/security.md, "Sessions"):
 *   POST /auth/password-reset {email}               -> 202, the same whether or not an account uses it
 *   POST /auth/password-reset/confirm {token, password} -> 204; the password is set and every session ends
 * The emailed link points at WYSERA_PUBLIC_URL, never at the Host a request named: a
 * forged Host would otherwise send the victim a working link to another site.
 */

/** What a reset needs besides the database: who sends, from which address, and where the link points. */
export interface PasswordResetDeps {
  db: Knex;
  keyring: Keyring;
  log: Logger;
  /** Undefined when the server has no email provider, no from-address or no public URL: resets answer 503. */
  mail: { sender: EmailSender; from: string; publicUrl: string } | undefined;
  /** Requests per client address per 15 minutes (default 20; 0: no limit). */
  requestsPerAddress?: number;
}

/** Emails per account per hour: enough to retry a lost email, too few to flood an inbox. */
const RESETS_PER_HOUR = 3;

const request = z.strictObject({ email: z.email().max(320) });
const confirm = z.strictObject({ token: z.string().min(1).max(200), password: passwordSchema });

const ANSWER = { message: `If an account uses this email, a link to set a new password is on its way. It works once, within ${PASSWORD_RESET_TTL_MS / 60_000} minutes.` };

/** The link in the email; the token rides in the fragment, so no server log or Referer header carries it. */
export const resetLink = (publicUrl: string, token: string) => `${publicUrl.replace(/\/+$/, '')}/reset-password#token=${token}`;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Mounted before `authenticate`: whoever forgot a password has no session. */
export function passwordResetRouter(deps: PasswordResetDeps): Router {
  const router = Router();
  const perAddress = deps.requestsPerAddress ?? 20;
  const limits = perAddress > 0 ? [passwordResetLimit(perAddress)] : [];

  /** Creates the reset and sends its email; failures are logged, never answered (the answer cannot depend on the account). */
  const sendReset = async (userId: string, email: string, mail: NonNullable<PasswordResetDeps['mail']>) => {
    const reset = await createPasswordReset(deps.db, userId, { perHour: RESETS_PER_HOUR });
    if (!reset) {
      deps.log.info({ userId }, 'password reset: not sent, the hourly limit for this account is reached');
      return;
    }
    await appendAudit(deps.db, { workspaceId: null, actor: 'system:password_reset', action: 'user.password_reset_requested', targetType: 'user', targetId: userId, after: { resetId: reset.id, expiresAt: reset.expiresAt } });
    const link = resetLink(mail.publicUrl, reset.token);
    const minutes = PASSWORD_RESET_TTL_MS / 60_000;
    await mail.sender.send({
      from: { email: mail.from, name: 'Wysera' },
      to: { email },
      subject: 'Set a new Wysera password',
      text: `Someone asked to set a new password for the Wysera account of ${email}.\n\nTo choose one, open this link within ${minutes} minutes (it works once):\n${link}\n\nIf it was not you, ignore this email: your password stays as it is.\n`,
      html: `<p>Someone asked to set a new password for the Wysera account of ${escapeHtml(email)}.</p><p><a href="${escapeHtml(link)}">Choose a new password</a> within ${minutes} minutes (the link works once).</p><p>If it was not you, ignore this email: your password stays as it is.</p>`,
      idempotencyKey: `password-reset:${reset.id}`,
      tags: { kind: 'password_reset' },
    });
    deps.log.info({ userId, resetId: reset.id }, 'password reset: email sent');
  };

  router.post('/auth/password-reset', ...limits, async (req, res) => {
    const input = parseOr400(request, req.body, 'password reset');
    const mail = deps.mail;
    if (!mail) throw new HttpError(503, 'password reset by email is not set up on this server (it needs WYSERA_PUBLIC_URL, an email provider and EMAIL_DEFAULT_FROM); an owner can remove and add you again with a one-time password');
    const user = await findUserByEmail(deps.db, deps.keyring, input.email);
    // Answered before the email goes: how long the answer takes must not tell whether the account exists.
    if (user) {
      sendReset(user.id, user.email, mail).catch((err: unknown) => deps.log.error({ err, userId: user.id }, 'password reset: email not sent'));
    }
    res.status(202).json(ANSWER);
  });

  router.post('/auth/password-reset/confirm', ...limits, async (req, res) => {
    const input = parseOr400(confirm, req.body, 'password reset');
    const done = await resetPassword(deps.db, input.token, input.password);
    if (!done) throw new HttpError(400, 'this reset link is not valid: it was used, replaced by a newer one, or is over an hour old; ask for a new one');
    await appendAudit(deps.db, { workspaceId: null, actor: `user:${done.userId}`, action: 'user.password_reset', targetType: 'user', targetId: done.userId, after: { resetId: done.id } });
    res.status(204).end();
  });

  return router;
}
