import { churnRisks } from '../db/churn-risk';
import { closeChurnSave, findChurnSave, recordIntervention } from '../db/churn-saves';
import { findCustomerContact } from '../db/customer-pii';
import { customerPlan } from '../db/customer-plan';
import { createDraftOnce, findStepDraft, transitionDraft, type Draft } from '../db/drafts';
import { inDunning } from '../db/dunning-cases';
import type { Knex } from '../db/knex';
import { getPlaySettings } from '../db/play-settings';
import { effectiveMapping, planPriceLike } from '../db/product-mapping';
import { customerActivity } from '../db/product-signals';
import { findWorkspace } from '../db/workspaces';
import { CHURN_PLAY, chooseIntervention, churnSettings, DEFAULT_CHURN_TEMPLATES, emailFacts, periodText, type ChurnSaveFacts, type ChurnSaveOutcome, type InterventionKind } from '../domain/churn-save';
import { isOpenDraft, type DraftStatus } from '../domain/drafts';
import { tenureMonths } from '../domain/plan-value';
import { usageSummary } from '../domain/product-activity';
import { neighbours } from '../domain/product-mapping';
import { modeForCustomer, type RolloutMode } from '../domain/rollout';
import type { Keyring } from '../platform/crypto';
import type { Logger } from '../platform/logger';
import { renderPlayEmail } from './drafts';

const ACTOR = 'system:churn';
/** The save's one draft: a save is one email, not a sequence. */
export const SAVE_STEP = 'save';

export interface ChurnSaveActivityDeps {
  db: Knex;
  keyring: Keyring;
  log: Logger;
}

export interface ChurnSaveRef {
  workspaceId: string;
  customerId: string;
  saveId: string;
  workflowId: string;
}

export type SaveState =
  | { kind: 'ready'; mode: RolloutMode; draft: { id: string; status: DraftStatus } | null }
  /** Nothing left to do: the customer left or went into dunning, or (before anything was drafted) is no longer at risk or has no address. */
  | { kind: 'ended'; outcome: Extract<ChurnSaveOutcome, 'churned' | 'no_longer_at_risk' | 'in_dunning' | 'no_email'> };

/**
 * The facts a save cites: the customer (from the mirror, decrypted), their plan and
 * the next plan down in the product mapping, their usage, and the intervention the
 * reasons call for. Undefined when the customer has no live subscription any more.
 */
export async function buildSaveFacts(deps: Pick<ChurnSaveActivityDeps, 'db' | 'keyring'>, ref: Pick<ChurnSaveRef, 'workspaceId' | 'customerId'>, now: Date): Promise<{ facts: ChurnSaveFacts; to: string | null } | undefined> {
  const { db, keyring } = deps;
  const [risk, settings, workspace, contact, plan, mapping, activity, since] = await Promise.all([
    churnRisks(db, ref.workspaceId, now, [ref.customerId]).then((m) => m.get(ref.customerId)),
    getPlaySettings(db, ref.workspaceId, CHURN_PLAY).then((s) => churnSettings(s.config)),
    findWorkspace(db, ref.workspaceId),
    findCustomerContact(db, keyring, ref.workspaceId, ref.customerId),
    customerPlan(db, ref.workspaceId, ref.customerId),
    effectiveMapping(db, ref.workspaceId),
    customerActivity(db, ref.workspaceId, ref.customerId, now),
    db('stripe_customers').where({ workspace_id: ref.workspaceId, id: ref.customerId }).first<{ created: Date | null } | undefined>('created'),
  ]);
  if (!risk) return undefined;
  // The plan as the workspace names it in its product mapping.
  const named = plan && { name: mapping.find((m) => m.productId === plan.productId)?.planName ?? plan.productName, monthlyValue: plan.monthlyValue, item: { price: plan.item.price, period: periodText(plan.item.interval, plan.item.intervalCount) } };
  const down = plan ? neighbours(mapping, plan.productId).down : null;
  // Priced as the customer's plan is (their currency, interval and quantity), whatever currency the mapping ranks plans in.
  const unitPrice = plan && down ? await planPriceLike(db, ref.workspaceId, down.productId, { currency: plan.item.price.currency, interval: plan.item.interval, intervalCount: plan.item.intervalCount }) : null;
  const summary = usageSummary(activity);
  const facts: ChurnSaveFacts = {
    company: { name: workspace?.name ?? ref.workspaceId },
    customer: {
      id: ref.customerId,
      name: contact?.name ?? 'there',
      email: contact?.email ?? null,
      tenureMonths: since?.created ? tenureMonths(since.created, now) : null,
    },
    plan: named && { name: named.name, monthlyValue: named.monthlyValue },
    usage: summary ? { summary } : null,
    intervention: chooseIntervention({
      reasons: risk.reasons,
      plan: named,
      planDown: down && plan && unitPrice !== null ? { name: down.planName, price: { amount: unitPrice * plan.item.quantity, currency: plan.item.price.currency } } : null,
      settings,
    }),
    risk: { score: risk.score, threshold: settings.threshold, reasons: risk.reasons },
  };
  return { facts, to: contact?.email ?? null };
}

export function createChurnSaveActivities(deps: ChurnSaveActivityDeps) {
  const { db, log } = deps;
  const summary = (d: Draft) => ({ id: d.id, status: d.status });

  return {
    /**
     * Brings the save's draft in line with the play's mode as it is now: drafts it the
     * first time (scheduled in auto, drafted in review), returns a scheduled one to
     * review when the mode changed, cancels it when the mode is off, the customer has
     * left (no live subscription) or a dunning began (that play writes to them now).
     * A customer whose score fell below the threshold before the draft was written, or
     * whom Stripe has no address for, is left alone.
     */
    async prepareChurnSave(input: ChurnSaveRef): Promise<SaveState> {
      const now = new Date();
      const settings = await getPlaySettings(db, input.workspaceId, CHURN_PLAY);
      const mode = modeForCustomer(settings.rollout, input.workspaceId, input.customerId);
      let draft = await findStepDraft(db, input.workflowId, SAVE_STEP);
      const cancel = async (reason: string) => {
        if (draft && isOpenDraft(draft.status)) draft = await transitionDraft(db, draft.id, { to: 'cancelled', actor: ACTOR, reason });
      };
      if (mode === 'off') {
        await cancel('the churn radar is off in this workspace');
        return { kind: 'ready', mode, draft: draft ? summary(draft) : null };
      }
      const stillOpen = !draft || isOpenDraft(draft.status);
      const [live, dunning] = stillOpen ? await Promise.all([churnRisks(db, input.workspaceId, now, [input.customerId]).then((m) => m.get(input.customerId)), inDunning(db, input.workspaceId, input.customerId)]) : [true, false];
      if (!live) {
        await cancel('the customer has no live subscription any more');
        return { kind: 'ended', outcome: 'churned' };
      }
      if (dunning) {
        await cancel('a dunning began: that play writes to the customer now');
        return { kind: 'ended', outcome: 'in_dunning' };
      }
      if (!draft) {
        const built = await buildSaveFacts(deps, input, now);
        if (!built) return { kind: 'ended', outcome: 'churned' };
        if (built.facts.risk.score < built.facts.risk.threshold) return { kind: 'ended', outcome: 'no_longer_at_risk' };
        if (!built.to) return { kind: 'ended', outcome: 'no_email' };
        const kind = built.facts.intervention.kind;
        const email = await renderPlayEmail(db, log, { workspaceId: input.workspaceId, play: CHURN_PLAY, templateKey: kind, builtIn: DEFAULT_CHURN_TEMPLATES[kind], facts: emailFacts(built.facts) });
        ({ draft } = await createDraftOnce(
          db,
          {
            workspaceId: input.workspaceId,
            customerId: input.customerId,
            play: CHURN_PLAY,
            step: SAVE_STEP,
            workflowId: input.workflowId,
            subjectRef: input.saveId,
            templateKey: kind,
            status: mode === 'auto' ? 'scheduled' : 'drafted',
            toAddress: built.to,
            subject: email.subject,
            bodyHtml: email.html,
            bodyText: email.text,
            facts: built.facts,
            scheduledFor: now,
          },
          ACTOR,
        ));
      } else if (mode === 'review' && draft.status === 'scheduled') {
        draft = await transitionDraft(db, draft.id, { to: 'drafted', actor: ACTOR, reason: 'the churn radar changed to review mode', onlyFrom: ['scheduled'] });
      }
      // Each time, not only at the draft's creation: a crash between the two would leave the save without it.
      if (draft.templateKey) await recordIntervention(db, input.saveId, draft.templateKey as InterventionKind);
      return { kind: 'ready', mode, draft: summary(draft) };
    },

    /** Records how the save ended; the customer's cooldown counts from now. */
    async closeChurnSave(input: ChurnSaveRef & { outcome: ChurnSaveOutcome }): Promise<void> {
      await closeChurnSave(db, input.saveId, input.outcome, new Date());
      const save = await findChurnSave(db, input.saveId);
      log.info({ workspaceId: input.workspaceId, customerId: input.customerId, saveId: input.saveId, outcome: save?.outcome, intervention: save?.intervention }, 'churn save ended');
    },
  };
}

export type ChurnSaveActivities = ReturnType<typeof createChurnSaveActivities>;
