import { createDraftOnce, findStepDraft, transitionDraft, type Draft } from '../db/drafts';
import type { Knex } from '../db/knex';
import { getPlaySettings } from '../db/play-settings';
import { isOpenDraft } from '../domain/drafts';
import { modeForCustomer } from '../domain/rollout';
import type { EmailTemplate } from '../domain/templates';
import type { Keyring } from '../platform/crypto';
import type { Logger } from '../platform/logger';
import type { PreparedOutreach } from '../workflows/outreach';
import { renderPlayEmail } from './drafts';

/** What the one-email plays' activities run on: the database, the key that opens customers' contact details, the log. */
export interface OutreachActivityDeps {
  db: Knex;
  keyring: Keyring;
  log: Logger;
}

/** What an email's template renders against: never the reviewer's `risk` (emailFacts in domain/churn-save.ts strips it). */
type CitableFacts = object & { risk?: never };

/** The one draft an outreach writes: one email, not a sequence. */
export interface OutreachDraftSpec<Ended extends string, Seen> {
  play: string;
  step: string;
  actor: string;
  /** Says why the draft went (in the audit log): "the churn radar". */
  playName: string;
  /**
   * The customer as they are now, while the draft is still open (`draft`, undefined
   * before the first is written): an end (with the reason its draft is cancelled) when
   * the outreach no longer applies, else what `build` needs, read once.
   */
  check(now: Date, draft: Draft | undefined): Promise<{ ended: Ended; reason: string } | { seen: Seen }>;
  /** The first draft's email and facts, or an end found before anything was written (nothing to cancel). */
  build(now: Date, seen: Seen): Promise<{ ended: Ended } | { templateKey: string; builtIn: EmailTemplate; emailFacts: CitableFacts; facts: object; to: string }>;
  /** Called with the draft each time it is ready (a crash between its creation and this must not lose what it records). */
  onReady?(draft: Draft): Promise<void>;
}

export interface OutreachRef {
  workspaceId: string;
  customerId: string;
  workflowId: string;
  /** The play's row (churn_saves, expansion_pitches), the draft's subject. */
  rowId: string;
}

/**
 * Brings an outreach's draft in line with the play's mode as it is now: drafts it the
 * first time (scheduled in auto, drafted in review), returns a scheduled one to review
 * when the mode changed, cancels it when the mode is off or `check` finds the
 * outreach no longer applies.
 */
export async function prepareOutreachDraft<Ended extends string, Seen>(deps: { db: Knex; log: Logger }, ref: OutreachRef, spec: OutreachDraftSpec<Ended, Seen>): Promise<PreparedOutreach<Ended>> {
  const { db, log } = deps;
  const now = new Date();
  const settings = await getPlaySettings(db, ref.workspaceId, spec.play);
  const mode = modeForCustomer(settings.rollout, ref.workspaceId, ref.customerId);
  let draft = await findStepDraft(db, ref.workflowId, spec.step);
  const cancel = async (reason: string) => {
    if (draft && isOpenDraft(draft.status)) draft = await transitionDraft(db, draft.id, { to: 'cancelled', actor: spec.actor, reason });
  };
  const ready = async (d: Draft): Promise<PreparedOutreach<Ended>> => {
    await spec.onReady?.(d);
    return { kind: 'ready', mode, draft: { id: d.id, status: d.status } };
  };
  if (mode === 'off') {
    await cancel(`${spec.playName} is off in this workspace`);
    return { kind: 'ready', mode, draft: draft ? { id: draft.id, status: draft.status } : null };
  }
  if (draft && !isOpenDraft(draft.status)) return ready(draft);
  const checked = await spec.check(now, draft);
  if ('ended' in checked) {
    await cancel(checked.reason);
    return { kind: 'ended', outcome: checked.ended };
  }
  if (!draft) {
    const built = await spec.build(now, checked.seen);
    if ('ended' in built) return { kind: 'ended', outcome: built.ended };
    const email = await renderPlayEmail(db, log, { workspaceId: ref.workspaceId, play: spec.play, templateKey: built.templateKey, builtIn: built.builtIn, facts: built.emailFacts });
    ({ draft } = await createDraftOnce(
      db,
      {
        workspaceId: ref.workspaceId,
        customerId: ref.customerId,
        play: spec.play,
        step: spec.step,
        workflowId: ref.workflowId,
        subjectRef: ref.rowId,
        templateKey: built.templateKey,
        status: mode === 'auto' ? 'scheduled' : 'drafted',
        toAddress: built.to,
        subject: email.subject,
        bodyHtml: email.html,
        bodyText: email.text,
        facts: built.facts,
        scheduledFor: now,
      },
      spec.actor,
    ));
  } else if (mode === 'review' && draft.status === 'scheduled') {
    draft = await transitionDraft(db, draft.id, { to: 'drafted', actor: spec.actor, reason: `${spec.playName} changed to review mode`, onlyFrom: ['scheduled'] });
  }
  return ready(draft);
}
