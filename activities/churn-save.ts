import { churnRiskOf } from '../db/churn-risk';
import { churnSaveRows, closeChurnSave, recordIntervention } from '../db/churn-saves';
import type { Draft } from '../db/drafts';
import { customerPlan, type CustomerPlan } from '../db/customer-plan';
import { inDunning } from '../db/dunning-cases';
import type { Knex } from '../db/knex';
import { getPlaySettings } from '../db/play-settings';
import { effectiveMapping, priceForCustomer } from '../db/product-mapping';
import { customerActivity } from '../db/product-signals';
import { CHURN_PLAY, chooseIntervention, churnSettings, DEFAULT_CHURN_TEMPLATES, type ChurnSaveFacts, type ChurnSaveOutcome, type ChurnSettings, type InterventionFacts, type InterventionKind } from '../domain/churn-save';
import { emailFacts, periodText, planName } from '../domain/outreach-facts';
import type { ChurnRisk, RiskReason } from '../domain/churn-risk';
import { usageSummary, type CustomerActivity } from '../domain/product-activity';
import { neighbours, type PlanMapping } from '../domain/product-mapping';
import { SAVE_REVIEW_WINDOW_MS } from '../domain/churn-save-timing';
import type { PreparedOutreach } from '../workflows/outreach';
import { outreachParties } from './customer-facts';
import { prepareOutreachDraft, type OutreachActivityDeps } from './outreach-draft';

const ACTOR = 'system:churn';
/** The save's one draft: a save is one email, not a sequence. */
export const SAVE_STEP = 'save';

export type ChurnSaveActivityDeps = OutreachActivityDeps;

export interface ChurnSaveRef {
  workspaceId: string;
  customerId: string;
  saveId: string;
  workflowId: string;
}

/** The draft as the mode wants it, or the end found: the customer left or went into dunning, or (before anything was drafted) is no longer at risk or has no address. */
type SaveEnd = Extract<ChurnSaveOutcome, 'churned' | 'no_longer_at_risk' | 'in_dunning' | 'reoffered' | 'no_email'>;
export type SaveState = PreparedOutreach<SaveEnd>;

/**
 * The offer the risk reasons call for (chooseIntervention), for a customer on `plan`:
 * the next plan down in the mapping priced as their plan is billed (their currency,
 * interval and quantity, whatever currency the mapping ranks plans in), credits, or a
 * call. Also answers the plan as the workspace names it, with its monthly value.
 */
export async function saveOffer(
  db: Knex,
  workspaceId: string,
  read: { plan: CustomerPlan | null; mapping: PlanMapping[]; reasons: RiskReason[]; settings: ChurnSettings },
): Promise<{ intervention: InterventionFacts; plan: ChurnSaveFacts['plan'] }> {
  const { plan, mapping } = read;
  const named = plan && { name: planName(mapping, plan), monthlyValue: plan.monthlyValue, item: { price: plan.item.price, period: periodText(plan.item.interval, plan.item.intervalCount) } };
  const down = plan ? neighbours(mapping, plan.productId).down : null;
  const downPrice = plan && down ? await priceForCustomer(db, workspaceId, down.productId, plan.item) : null;
  const intervention = chooseIntervention({ reasons: read.reasons, plan: named, planDown: down && downPrice ? { name: down.planName, price: downPrice } : null, settings: read.settings });
  return { intervention, plan: named && { name: named.name, monthlyValue: named.monthlyValue } };
}

/**
 * The facts a save cites: the customer (from the mirror, decrypted), their plan and
 * the next plan down in the product mapping, their usage (`activity`), and the
 * intervention their reasons (`risk`) call for.
 */
export async function buildSaveFacts(
  deps: Pick<ChurnSaveActivityDeps, 'db' | 'keyring'>,
  ref: Pick<ChurnSaveRef, 'workspaceId' | 'customerId'>,
  now: Date,
  read: { risk: ChurnRisk; activity: CustomerActivity },
): Promise<{ facts: ChurnSaveFacts; to: string | null }> {
  const { db, keyring } = deps;
  const { risk, activity } = read;
  const [settings, parties, plan, mapping] = await Promise.all([
    getPlaySettings(db, ref.workspaceId, CHURN_PLAY).then((s) => churnSettings(s.config)),
    outreachParties(db, keyring, ref.workspaceId, ref.customerId, now),
    customerPlan(db, ref.workspaceId, ref.customerId),
    effectiveMapping(db, ref.workspaceId),
  ]);
  const summary = usageSummary(activity);
  const offer = await saveOffer(db, ref.workspaceId, { plan, mapping, reasons: risk.reasons, settings });
  const facts: ChurnSaveFacts = {
    ...parties,
    plan: offer.plan,
    usage: summary ? { summary } : null,
    intervention: offer.intervention,
    risk: { score: risk.score, threshold: settings.threshold, reasons: risk.reasons },
  };
  return { facts, to: parties.customer.email };
}

export function createChurnSaveActivities(deps: ChurnSaveActivityDeps) {
  const { db, log } = deps;

  /**
   * For a save whose draft waits for a person, untouched: the offer its reasons call for
   * now, when that is another kind than the draft's (its template: a call drafted, and
   * urgent tickets since call for credits). A draft offering what no longer fits is not
   * what a person should approve. Not for a draft a person approved or edited (their
   * decision stands), nor below the threshold (no save would be drafted again), and
   * once per customer within a review window: reasons that keep moving do not redraft
   * for ever.
   */
  const offerNow = async (input: ChurnSaveRef, risk: ChurnRisk, now: Date, draft: Draft | undefined): Promise<{ drafted: InterventionKind; now: InterventionKind } | null> => {
    const drafted = draft?.status === 'drafted' ? (draft.templateKey as InterventionKind | null) : null;
    if (!drafted) return null;
    const settings = churnSettings((await getPlaySettings(db, input.workspaceId, CHURN_PLAY)).config);
    if (risk.score < settings.threshold) return null;
    const [plan, mapping, reofferedLately] = await Promise.all([
      customerPlan(db, input.workspaceId, input.customerId),
      effectiveMapping(db, input.workspaceId),
      churnSaveRows.endedSince(db, input.workspaceId, input.customerId, new Date(now.getTime() - SAVE_REVIEW_WINDOW_MS), ['reoffered']),
    ]);
    if (reofferedLately) return null;
    const { intervention } = await saveOffer(db, input.workspaceId, { plan, mapping, reasons: risk.reasons, settings });
    return intervention.kind === drafted ? null : { drafted, now: intervention.kind };
  };

  return {
    /**
     * Brings the save's draft in line with the play's mode as it is now
     * (activities/outreach-draft.ts), cancelling it when the customer has left (no
     * live subscription) or a dunning began (that play writes to them now). A
     * customer whose score fell below the threshold before the draft was written, or
     * whom Stripe has no address for, is left alone.
     */
    async prepareChurnSave(input: ChurnSaveRef): Promise<SaveState> {
      return prepareOutreachDraft<SaveEnd, { risk: ChurnRisk; activity: CustomerActivity }>(deps, { ...input, rowId: input.saveId }, {
        play: CHURN_PLAY,
        step: SAVE_STEP,
        actor: ACTOR,
        playName: 'the churn radar',
        async check(now, draft) {
          // The customer as they are now: still paying, not in dunning; read once, for the draft's facts too.
          const [activity, dunning] = await Promise.all([customerActivity(db, input.workspaceId, input.customerId, now), inDunning(db, input.workspaceId, input.customerId)]);
          const live = await churnRiskOf(db, input.workspaceId, input.customerId, now, activity);
          if (!live) return { ended: 'churned', reason: 'the customer has no live subscription any more' };
          if (dunning) return { ended: 'in_dunning', reason: 'a dunning began: that play writes to the customer now' };
          const reoffer = await offerNow(input, live, now, draft);
          if (reoffer) return { ended: 'reoffered', reason: `the customer's reasons now call for ${reoffer.now} rather than ${reoffer.drafted}: the churn radar drafts their save again` };
          return { seen: { risk: live, activity } };
        },
        async build(now, seen) {
          const built = await buildSaveFacts(deps, input, now, seen);
          if (built.facts.risk.score < built.facts.risk.threshold) return { ended: 'no_longer_at_risk' };
          if (!built.to) return { ended: 'no_email' };
          const kind = built.facts.intervention.kind;
          return { templateKey: kind, builtIn: DEFAULT_CHURN_TEMPLATES[kind], emailFacts: emailFacts(built.facts), facts: built.facts, to: built.to };
        },
        // Each time, not only at the draft's creation: a crash between the two would leave the save without its offer.
        onReady: async (d) => {
          if (d.templateKey) await recordIntervention(db, input.saveId, d.templateKey as InterventionKind);
        },
      });
    },

    /** Records how the save ended; the customer's cooldown counts from now. */
    async closeChurnSave(input: ChurnSaveRef & { outcome: ChurnSaveOutcome }): Promise<void> {
      // Undefined when a retry finds it closed already: logged once.
      const save = await closeChurnSave(db, input.saveId, input.outcome, new Date());
      if (save) log.info({ workspaceId: input.workspaceId, customerId: input.customerId, saveId: input.saveId, outcome: save.outcome, intervention: save.intervention }, 'churn save ended');
    },
  };
}

export type ChurnSaveActivities = ReturnType<typeof createChurnSaveActivities>;
