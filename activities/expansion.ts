import { churnRiskOf, churnRisks } from '../db/churn-risk';
import { churnSaveRows } from '../db/churn-saves';
import { customerPlan, customerPlans, type CustomerPlan } from '../db/customer-plan';
import { inDunning } from '../db/dunning-cases';
import { expansionPitchRows, openExpansionPitches, recordPitch, type ExpansionPitch } from '../db/expansion-pitches';
import type { Knex } from '../db/knex';
import { getPlaySettings } from '../db/play-settings';
import { effectiveMapping, priceForCustomer } from '../db/product-mapping';
import { customerActivity, customersActivity } from '../db/product-signals';
import { planSeats, seatsAddedSince } from '../db/seat-changes';
import { CHURN_PLAY, churnSettings } from '../domain/churn-save';
import { periodText, planName } from '../domain/outreach-facts';
import { allowsText, chooseExpansion, DEFAULT_EXPANSION_TEMPLATES, EXPANSION_PLAY, expansionSettings, usageCited, type ExpansionChoice, type ExpansionOutcome, type ExpansionPitchFacts } from '../domain/expansion';
import { EXPANSION_REVIEW_WINDOW_MS } from '../domain/expansion-timing';
import type { CustomerActivity } from '../domain/product-activity';
import type { PlanMapping } from '../domain/product-mapping';
import type { PreparedOutreach } from '../workflows/outreach';
import type { ExpansionPitchInput } from '../workflows/expansion-pitch';
import { outreachParties } from './customer-facts';
import { prepareOutreachDraft, type OutreachActivityDeps } from './outreach-draft';
import { scanOutreach, type OutreachPlay, type OutreachScan, type OutreachScanDeps } from './outreach-scan';
import { DAY_MS } from '../domain/durations';

const ACTOR = 'system:expansion';
/** The pitch's one draft. */
export const PITCH_STEP = 'pitch';

export type ExpansionActivityDeps = OutreachActivityDeps;

/** What the pitch's workflow hands its activities: its own input. */
export type ExpansionPitchRef = ExpansionPitchInput;

type PitchEnd = Extract<ExpansionOutcome, 'churned' | 'in_dunning' | 'at_risk' | 'no_longer_eligible' | 'no_email'>;
export type PitchState = PreparedOutreach<PitchEnd>;

/** A customer's churn risk at or above the churn play's threshold: the score at which the radar would try to save them. */
export async function churnThreshold(db: Knex, workspaceId: string): Promise<number> {
  return churnSettings((await getPlaySettings(db, workspaceId, CHURN_PLAY)).config).threshold;
}

/**
 * What a pitch of `choice` to a customer on `plan` cites: the use near the limit or
 * the seats added, and the plan up, priced as their plan is billed (null when it has
 * no price in their currency and period).
 */
export async function pitchFacts(db: Knex, workspaceId: string, plan: CustomerPlan, choice: ExpansionChoice, windowDays: number): Promise<Pick<ExpansionPitchFacts, 'usage' | 'seats' | 'target'>> {
  const { evidence, target } = choice;
  const price = await priceForCustomer(db, workspaceId, target.productId, plan.item);
  return {
    usage: evidence.trigger === 'near_limit' ? usageCited(evidence, windowDays) : null,
    seats: evidence.trigger === 'seats_added' ? { from: evidence.from, to: evidence.to, added: evidence.added } : null,
    target: {
      name: target.planName,
      price,
      period: price ? periodText(plan.item.interval, plan.item.intervalCount) : null,
      allows: evidence.trigger === 'near_limit' ? allowsText(evidence.targetIncluded, evidence.label) : null,
      unlimitedSeats: Object.hasOwn(target.limits, 'seats') && target.limits.seats === null,
    },
  };
}

/**
 * The facts a pitch cites, from the customer as they are now: their plan, their use
 * of its limits or the seats they added, and the plan the play would pitch (priced
 * as their plan is billed). Null when there is nothing to pitch any more.
 */
export async function buildPitchFacts(
  deps: Pick<ExpansionActivityDeps, 'db' | 'keyring'>,
  ref: Pick<ExpansionPitchRef, 'workspaceId' | 'customerId'>,
  now: Date,
  read: { plan: CustomerPlan; activity: CustomerActivity },
): Promise<{ facts: ExpansionPitchFacts; to: string | null; choice: ExpansionChoice } | null> {
  const { db, keyring } = deps;
  const { plan, activity } = read;
  const settings = expansionSettings((await getPlaySettings(db, ref.workspaceId, EXPANSION_PLAY)).config);
  const [parties, mapping, seats] = await Promise.all([
    outreachParties(db, keyring, ref.workspaceId, ref.customerId, now),
    effectiveMapping(db, ref.workspaceId),
    seatsAddedSince(db, ref.workspaceId, new Date(now.getTime() - settings.seatWindowDays * DAY_MS), [ref.customerId]),
  ]);
  const choice = chooseExpansion({ productId: plan.productId, usage: activity.usage, seats: planSeats(seats, ref.customerId, plan.productId) }, mapping, settings);
  if (!choice) return null;
  const pitch = await pitchFacts(db, ref.workspaceId, plan, choice, activity.windowDays);
  const facts: ExpansionPitchFacts = {
    ...parties,
    plan: { name: planName(mapping, plan), price: plan.item.price, period: periodText(plan.item.interval, plan.item.intervalCount) },
    ...pitch,
    trigger: choice.evidence.trigger,
  };
  return { facts, to: parties.customer.email, choice };
}

export function createExpansionActivities(deps: ExpansionActivityDeps) {
  const { db, log } = deps;
  return {
    /**
     * Brings the pitch's draft in line with the play's mode (activities/outreach-draft.ts),
     * cancelling it when the customer has left (no live subscription), a dunning began,
     * or their churn risk reached the churn play's threshold: no upgrade pitch to a
     * customer the radar would try to save. A customer whose plan cannot be told or
     * is the one pitched, or (before the draft is written) with nothing to pitch any
     * more (use fell, seats went back) or no address, is left alone.
     */
    async prepareExpansionPitch(input: ExpansionPitchRef): Promise<PitchState> {
      return prepareOutreachDraft<PitchEnd, { plan: CustomerPlan; activity: CustomerActivity }>(deps, { ...input, rowId: input.pitchId }, {
        play: EXPANSION_PLAY,
        step: PITCH_STEP,
        actor: ACTOR,
        playName: 'the expansion play',
        async check(now) {
          const [plan, activity, dunning, threshold, pitch, saving] = await Promise.all([
            customerPlan(db, input.workspaceId, input.customerId),
            customerActivity(db, input.workspaceId, input.customerId, now),
            inDunning(db, input.workspaceId, input.customerId),
            churnThreshold(db, input.workspaceId),
            expansionPitchRows.find(db, input.pitchId),
            churnSaveRows.openFor(db, input.workspaceId, input.customerId),
          ]);
          // A churn risk is scored for every customer with a live subscription: none, and they have left (as the churn play decides).
          const risk = await churnRiskOf(db, input.workspaceId, input.customerId, now, activity);
          if (!risk) return { ended: 'churned', reason: 'the customer has no live subscription any more' };
          if (dunning) return { ended: 'in_dunning', reason: 'a dunning began: that play writes to the customer now' };
          if (saving) return { ended: 'at_risk', reason: 'the churn radar is writing to the customer to keep them' };
          if (risk.score >= threshold) return { ended: 'at_risk', reason: `the customer's churn risk (${risk.score}) reached the churn play's threshold (${threshold})` };
          // Still a customer, but an item's amount is unknown (db/customer-plan.ts): which plan is theirs, and so what is up from it, cannot be told.
          if (!plan) return { ended: 'no_longer_eligible', reason: "the customer's plan cannot be told: an item of their subscription has an amount the mirror does not know" };
          // Moved up on their own while the pitch waited: it would offer what they have.
          if (pitch) {
            const mapping = await effectiveMapping(db, input.workspaceId);
            if (tierOf(mapping, plan.productId) >= tierOf(mapping, pitch.targetProductId)) return { ended: 'no_longer_eligible', reason: "the customer's plan is the one pitched, or above it" };
          }
          return { seen: { plan, activity } };
        },
        async build(now, seen) {
          const built = await buildPitchFacts(deps, input, now, seen);
          if (!built) return { ended: 'no_longer_eligible' };
          if (!built.to) return { ended: 'no_email' };
          // The row says what the email pitches, even where the customer changed since the scan opened it.
          await recordPitch(db, input.pitchId, built.choice.evidence, built.choice.target.productId);
          const trigger = built.facts.trigger;
          return { templateKey: trigger, builtIn: DEFAULT_EXPANSION_TEMPLATES[trigger], emailFacts: built.facts, facts: built.facts, to: built.to };
        },
      });
    },

    /** Records how the pitch ended; the customer's cooldown counts from now. */
    async closeExpansionPitch(input: ExpansionPitchRef & { outcome: ExpansionOutcome }): Promise<void> {
      const pitch = await expansionPitchRows.close(db, input.pitchId, input.outcome, new Date());
      if (pitch) log.info({ workspaceId: input.workspaceId, customerId: input.customerId, pitchId: input.pitchId, outcome: pitch.outcome, trigger: pitch.trigger }, 'expansion pitch ended');
    },
  };
}

export type ExpansionActivities = ReturnType<typeof createExpansionActivities>;

/** A plan's tier rank in the mapping; 0 for a product the mapping does not hold. */
const tierOf = (mapping: readonly PlanMapping[], productId: string) => mapping.find((m) => m.productId === productId)?.tierRank ?? 0;

/** The usage limits of a plan the product can report use of: seats are the plan's quantity, not a signal. */
const hasUsageLimit = (limits: Record<string, number | null>) => Object.entries(limits).some(([metric, n]) => metric !== 'seats' && n !== null);

/**
 * The expansion play as a scanned play: of the customers with a plan, those near a
 * usage limit of it or who added seats get a pitch when there is a plan up to pitch,
 * unless their churn risk is at the churn play's threshold (db/expansion-pitches.ts
 * keeps out those in dunning, being saved or cooling down).
 */
export const EXPANSION_SCAN: OutreachPlay<ExpansionPitch, ExpansionOutcome, 'expansionPitchWorkflow'> = {
  play: EXPANSION_PLAY,
  name: 'expansion scan',
  workflowType: 'expansionPitchWorkflow',
  workflowArgs: (pitch) => ({ pitchId: pitch.id }),
  rows: expansionPitchRows,
  closedOff: 'off',
  closedLost: 'lost',
  overdueAfterMs: EXPANSION_REVIEW_WINDOW_MS + DAY_MS,
  async open(db, workspaceId, play, now) {
    const settings = expansionSettings(play.config);
    const [plans, mapping, seats, threshold] = await Promise.all([
      customerPlans(db, workspaceId),
      effectiveMapping(db, workspaceId),
      seatsAddedSince(db, workspaceId, new Date(now.getTime() - settings.seatWindowDays * DAY_MS)),
      churnThreshold(db, workspaceId),
    ]);
    // Only customers who could be pitched: on a plan with a usage limit, or who added seats.
    const limited = new Set(mapping.filter((m) => hasUsageLimit(m.limits)).map((m) => m.productId));
    const ids = [...plans].filter(([id, plan]) => limited.has(plan.productId) || seats.has(id)).map(([id]) => id);
    if (!ids.length) return { candidates: 0, opened: 0 };
    const activity = await customersActivity(db, workspaceId, ids, now);
    const chosen = ids.flatMap((customerId) => {
      const choice = chooseExpansion({ productId: plans.get(customerId)!.productId, usage: activity.get(customerId)?.usage ?? [], seats: planSeats(seats, customerId, plans.get(customerId)!.productId) }, mapping, settings);
      return choice ? [{ customerId, evidence: choice.evidence, targetProductId: choice.target.productId }] : [];
    });
    // Scored only for those with something to pitch: the risk is the costly part.
    const risks = chosen.length ? await churnRisks(db, workspaceId, now, chosen.map((c) => c.customerId), activity) : new Map<string, { score: number }>();
    const candidates = chosen.filter((c) => (risks.get(c.customerId)?.score ?? 0) < threshold);
    const opened = await openExpansionPitches(db, workspaceId, candidates, { cooldownDays: settings.cooldownDays, now });
    return { candidates: candidates.length, opened: opened.length };
  },
};

/** One look at every workspace whose expansion play is not off (activities/outreach-scan.ts). */
export function scanExpansion(deps: OutreachScanDeps, now: Date, onlyWorkspaces?: string[], stopping?: () => boolean): Promise<OutreachScan> {
  return scanOutreach(deps, EXPANSION_SCAN, now, onlyWorkspaces, stopping);
}
