import { cancelOpenDrafts as cancelDrafts } from '../db/drafts';
import type { Knex } from '../db/knex';
import { getTemplateOverride } from '../db/play-settings';
import { printsRawAmount } from '../domain/redaction';
import { renderTemplate, TemplateError, type EmailTemplate, type RenderedEmail } from '../domain/templates';
import type { Logger } from '../platform/logger';

/**
 * Renders a play's email: the workspace's override of the template when it has one
 * (checked when it was stored), the built-in one otherwise. An override that fails
 * against these particular facts falls back to the built-in template, logged, so a
 * customer never gets a half-rendered email and the sequence does not stall; so does
 * one that prints an amount other than through `money`, which the drafts' redaction
 * could not find (one stored before such were refused).
 */
export async function renderPlayEmail(
  db: Knex,
  log: Logger,
  input: { workspaceId: string; play: string; templateKey: string; builtIn: EmailTemplate; facts: object },
): Promise<RenderedEmail & { usedOverride: boolean }> {
  const override = await getTemplateOverride(db, input.workspaceId, input.play, input.templateKey);
  if (override) {
    const where = { workspaceId: input.workspaceId, play: input.play, templateKey: input.templateKey };
    let rendered: RenderedEmail | null = null;
    try {
      rendered = renderTemplate(override, input.facts);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      log.warn({ ...where, problems: err.problems }, 'template override cannot be rendered with these facts; using the built-in template');
    }
    // One stored before overrides were checked for amounts printed outside `money` is checked now, on these facts.
    if (rendered && !printsRawAmount(override, input.facts)) return { ...rendered, usedOverride: true };
    if (rendered) log.warn(where, 'template override may print an amount other than through money; using the built-in template');
  }
  return { ...renderTemplate(input.builtIn, input.facts), usedOverride: false };
}

export interface DraftActivityDeps {
  db: Knex;
}

/** Draft bookkeeping every play's workflow uses. */
export function createDraftActivities({ db }: DraftActivityDeps) {
  return {
    /** Cancels the workflow's unsent drafts (all, or the given ones), audited as the system. */
    async cancelOpenDrafts(input: { workspaceId: string; workflowId: string; reason: string; draftIds?: string[] }): Promise<number> {
      const play = input.workflowId.split(':')[0] ?? 'play';
      return cancelDrafts(db, input.workflowId, `system:${play}`, input.reason, input.draftIds);
    },
  };
}
