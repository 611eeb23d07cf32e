import { DEFAULT_ROLLOUT, type RolloutMode, type RolloutSetting } from '../domain/rollout';
import type { EmailTemplate } from '../domain/templates';
import { appendAudit } from './audit';
import { NO_PROVIDER, providerColumns, summaryOfRow, type EmailProviderConfig, type EmailProviderSummary, type ProviderColumns } from './email-provider';
import type { Keyring } from '../platform/crypto';
import type { Db } from './knex';

/** A play's settings in a workspace: its rollout and its own configuration (e.g. dunning's steps). */
export interface PlaySettings {
  rollout: RolloutSetting;
  config: Record<string, unknown>;
  updatedBy: string | null;
  updatedAt: Date | null;
}

interface PlaySettingsRow {
  workspace_id: string;
  play: string;
  mode: RolloutMode;
  auto_percentage: number | null;
  config: Record<string, unknown>;
  updated_by: string;
  updated_at: Date;
}

/** The play's settings, or the defaults (review mode, no config) when never set. */
/** Takes the lock of one play's settings in a workspace for the transaction: one change of them at a time. */
export async function lockPlaySettings(trx: Db, workspaceId: string, play: string): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`play-settings:${workspaceId}:${play}`]);
}

export async function getPlaySettings(db: Db, workspaceId: string, play: string): Promise<PlaySettings> {
  const row = await db<PlaySettingsRow>('play_settings').where({ workspace_id: workspaceId, play }).first();
  if (!row) return { rollout: DEFAULT_ROLLOUT, config: {}, updatedBy: null, updatedAt: null };
  return { rollout: { mode: row.mode, autoPercentage: row.auto_percentage }, config: row.config, updatedBy: row.updated_by, updatedAt: row.updated_at };
}

export async function putPlaySettings(
  db: Db,
  workspaceId: string,
  play: string,
  next: { rollout: RolloutSetting; config: Record<string, unknown> },
  actor: string,
): Promise<PlaySettings> {
  return db.transaction(async (trx) => {
    const before = await getPlaySettings(trx, workspaceId, play);
    await trx('play_settings')
      .insert({
        workspace_id: workspaceId,
        play,
        mode: next.rollout.mode,
        auto_percentage: next.rollout.autoPercentage,
        config: JSON.stringify(next.config),
        updated_by: actor,
        updated_at: trx.fn.now(),
      })
      .onConflict(['workspace_id', 'play'])
      .merge();
    const after = await getPlaySettings(trx, workspaceId, play);
    await appendAudit(trx, {
      workspaceId,
      actor,
      action: 'play_settings.updated',
      targetType: 'play_settings',
      targetId: play,
      before: { rollout: before.rollout, config: before.config },
      after: { rollout: after.rollout, config: after.config },
    });
    return after;
  });
}

/** Where a workspace's emails come from. */
export interface EmailSettings {
  fromEmail: string;
  fromName: string | null;
  replyTo: string | null;
}

/** The stored settings: the from-address and the workspace's own provider, shown without its key. */
export interface StoredEmailSettings extends EmailSettings {
  provider: EmailProviderSummary | null;
}

interface EmailSettingsRow extends ProviderColumns {
  workspace_id: string;
  from_email: string;
  from_name: string | null;
  reply_to: string | null;
}

export async function getEmailSettings(db: Db, workspaceId: string): Promise<StoredEmailSettings | undefined> {
  const row = await db<EmailSettingsRow>('email_settings').where({ workspace_id: workspaceId }).first();
  return row && { fromEmail: row.from_email, fromName: row.from_name, replyTo: row.reply_to, provider: summaryOfRow(row) };
}

/**
 * Stores the from-address and, when `provider` is given, the workspace's own
 * provider (sealed; null removes it, absent keeps what is stored). The audit entry
 * shows the provider's kind and key hint, never the key.
 */
export async function putEmailSettings(
  db: Db,
  workspaceId: string,
  s: EmailSettings & { provider?: EmailProviderConfig | null },
  actor: string,
  keyring?: Keyring,
): Promise<StoredEmailSettings> {
  let provider: ProviderColumns | undefined;
  if (s.provider === null) provider = NO_PROVIDER;
  else if (s.provider) {
    if (!keyring) throw new Error('a keyring is needed to store an email provider key');
    provider = providerColumns(keyring, workspaceId, s.provider);
  }
  return db.transaction(async (trx) => {
    const before = await getEmailSettings(trx, workspaceId);
    await trx('email_settings')
      .insert({ workspace_id: workspaceId, from_email: s.fromEmail, from_name: s.fromName, reply_to: s.replyTo, ...provider, updated_by: actor, updated_at: trx.fn.now() })
      .onConflict('workspace_id')
      .merge();
    const after = (await getEmailSettings(trx, workspaceId))!;
    await appendAudit(trx, { workspaceId, actor, action: 'email_settings.updated', targetType: 'email_settings', targetId: workspaceId, before: before ?? null, after });
    return after;
  });
}

interface TemplateRow {
  workspace_id: string;
  play: string;
  template_key: string;
  subject: string;
  body_html: string;
  body_text: string;
}

/** A workspace's override of one of a play's templates, if it has one. */
export async function getTemplateOverride(db: Db, workspaceId: string, play: string, key: string): Promise<EmailTemplate | undefined> {
  const row = await db<TemplateRow>('template_overrides').where({ workspace_id: workspaceId, play, template_key: key }).first();
  return row && { subject: row.subject, html: row.body_html, text: row.body_text };
}

export async function listTemplateOverrides(db: Db, workspaceId: string, play: string): Promise<Record<string, EmailTemplate>> {
  const rows = await db<TemplateRow>('template_overrides').where({ workspace_id: workspaceId, play });
  return Object.fromEntries(rows.map((r) => [r.template_key, { subject: r.subject, html: r.body_html, text: r.body_text }]));
}

/** Stores an override (already checked by the caller) and audits it. */
export async function putTemplateOverride(db: Db, workspaceId: string, play: string, key: string, t: EmailTemplate, actor: string): Promise<void> {
  await db.transaction(async (trx) => {
    const before = await getTemplateOverride(trx, workspaceId, play, key);
    await trx('template_overrides')
      .insert({ workspace_id: workspaceId, play, template_key: key, subject: t.subject, body_html: t.html, body_text: t.text, updated_by: actor, updated_at: trx.fn.now() })
      .onConflict(['workspace_id', 'play', 'template_key'])
      .merge();
    await appendAudit(trx, { workspaceId, actor, action: 'template.updated', targetType: 'template', targetId: `${play}.${key}`, before: before ?? null, after: t });
  });
}

export async function deleteTemplateOverride(db: Db, workspaceId: string, play: string, key: string, actor: string): Promise<boolean> {
  return db.transaction(async (trx) => {
    const before = await getTemplateOverride(trx, workspaceId, play, key);
    if (!before) return false;
    await trx('template_overrides').where({ workspace_id: workspaceId, play, template_key: key }).delete();
    await appendAudit(trx, { workspaceId, actor, action: 'template.reset', targetType: 'template', targetId: `${play}.${key}`, before, after: null });
    return true;
  });
}
