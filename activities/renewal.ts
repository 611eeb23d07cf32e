import { churnRiskOf } from '../db/churn-risk';
import type { Draft } from '../db/drafts';
import { subscriptionPlan, type CustomerPlan } from '../db/customer-plan';
import { churnSaveRows } from '../db/churn-saves';
import { inDunning } from '../db/dunning-cases';
import { expansionPitchRows } from '../db/expansion-pitches';
import { getPlaySettings } from '../db/play-settings';
import { effectiveMapping } from '../db/product-mapping';
import { customerActivity } from '../db/product-signals';
import { openRenewalNotes, recordFold, renewalNoteRows, renewalQuote, renewalState, renewingItem, type LongTermItem, type RenewalNote } from '../db/renewal-notes';
import { planSeats, seatsAddedSince } from '../db/seat-changes';
import type { ChurnRisk } from '../domain/churn-risk';
import { CHURN_PLAY, churnSettings, COOLING_OUTCOMES } from '../domain/churn-save';
import { emailFacts, periodText, planName } from '../domain/outreach-facts';
import { chooseExpansion, EXPANSION_COOLING, EXPANSION_PLAY, expansionSettings } from '../domain/expansion';
import { usageSummary, type CustomerActivity } from '../domain/product-activity';
import { chooseFold, DEFAULT_RENEWAL_TEMPLATES, RENEWAL_PLAY, renewalSettings, type RenewalFold, type RenewalNoteFacts, type RenewalOutcome } from '../domain/renewal';
import { RENEWAL_REVIEW_MAX_MS, RENEWAL_SOONEST_MS } from '../domain/renewal-timing';
import type { PreparedOutreach } from '../workflows/outreach';
import type { RenewalNoteInput } from '../workflows/renewal-note';
import { saveOffer } from './churn-save';
import { outreachParties } from './customer-facts';
import { churnThreshold, pitchFacts } from './expansion';
import { prepareOutreachDraft, type OutreachActivityDeps } from './outreach-draft';
import { scanOutreach, type OutreachPlay, type OutreachScan, type OutreachScanDeps } from './outreach-scan';
import { DAY_MS } from '../domain/durations';

const ACTOR = 'system:renewal';
/** The note's one draft. */
export const NOTE_STEP = 'note';

export type RenewalActivityDeps = OutreachActivityDeps;

/** A churn risk at or above the churn play's threshold: no upgrade is pitched to such a customer, in a note or a pitch. */
const atChurnRisk = (risk: ChurnRisk | undefined, threshold: number): boolean => risk !== undefined && risk.score >= threshold;

/** What the note's workflow hands its activities: its own input. */
export type RenewalNoteRef = RenewalNoteInput;

type NoteEnd = Extract<RenewalOutcome, 'not_renewing' | 'renewed' | 'moved' | 'in_dunning' | 'refolded' | 'no_email'>;
export type NoteState = PreparedOutreach<NoteEnd>;

/**
 * The facts a note cites: the renewing plan and its date and price, what the customer
 * used in the last window, and (where the workspace allows offers) the churn radar's
 * offer when their risk is at the churn play's threshold, else the expansion play's
 * plan up when their use or seats call for one; neither while that play is off or
 * its cooldown after its last email to them runs.
 */
export async function buildNoteFacts(
  deps: Pick<RenewalActivityDeps, 'db' | 'keyring'>,
  ref: Pick<RenewalNoteRef, 'workspaceId' | 'customerId' | 'subscriptionId' | 'renewsAt'>,
  now: Date,
  read: { renewing: LongTermItem; plan: CustomerPlan | null; activity: CustomerActivity; risk: ChurnRisk | undefined },
): Promise<{ facts: RenewalNoteFacts; to: string | null }> {
  const { db, keyring } = deps;
  const { activity, risk } = read;
  // The customer's plan is what renews where it is billed at the renewing period; else the
  // long-term item is named, and no offer is made (an offer is priced against the plan,
  // which then is something else: a monthly add-on, or nothing of a fixed amount).
  const plan = read.plan && read.plan.item.interval === read.renewing.interval && read.plan.item.intervalCount === read.renewing.intervalCount ? read.plan : null;
  const renewing = plan ? { ...read.renewing, productId: plan.productId, productName: plan.productName } : read.renewing;
  const [settings, churnPlay, expansionPlay, parties, mapping, quote] = await Promise.all([
    getPlaySettings(db, ref.workspaceId, RENEWAL_PLAY).then((s) => renewalSettings(s.config)),
    getPlaySettings(db, ref.workspaceId, CHURN_PLAY),
    getPlaySettings(db, ref.workspaceId, EXPANSION_PLAY),
    outreachParties(db, keyring, ref.workspaceId, ref.customerId, now),
    effectiveMapping(db, ref.workspaceId),
    renewalQuote(db, ref.workspaceId, ref.subscriptionId, new Date(ref.renewsAt), renewing),
  ]);
  const churn = churnSettings(churnPlay.config);
  const expansion = expansionSettings(expansionPlay.config);
  const daysAgo = (days: number) => new Date(now.getTime() - days * DAY_MS);
  const [seats, saved, pitched] = await Promise.all([
    seatsAddedSince(db, ref.workspaceId, daysAgo(expansion.seatWindowDays), [ref.customerId]),
    // The other plays' cooldowns hold for their offers in a note too: no second save or pitch so soon after the first.
    churnSaveRows.endedSince(db, ref.workspaceId, ref.customerId, daysAgo(churn.cooldownDays), COOLING_OUTCOMES),
    expansionPitchRows.endedSince(db, ref.workspaceId, ref.customerId, daysAgo(expansion.cooldownDays), EXPANSION_COOLING),
  ]);
  // A play the workspace turned off makes no offer through a note either; and no upgrade goes
  // to a customer at churn risk (as no expansion pitch does), whether or not a save may go now.
  const riskHigh = atChurnRisk(risk, churn.threshold);
  const upgrade = !plan || pitched || riskHigh || expansionPlay.rollout.mode === 'off' ? null : chooseExpansion({ productId: plan.productId, usage: activity.usage, seats: planSeats(seats, ref.customerId, plan.productId) }, mapping, expansion);
  const atRisk = plan !== null && riskHigh && !saved && churnPlay.rollout.mode !== 'off';
  const fold = chooseFold({ offers: settings.offers, atRisk, upgradeReady: upgrade !== null });
  const base = {
    ...parties,
    plan: {
      name: planName(mapping, renewing),
      // What the renewal invoice charges (all fixed items, discounts that still run); none where the mirror cannot tell, as the plan's own item alone would quote it short.
      price: quote?.price ?? null,
      listPrice: quote?.listPrice ?? null,
      plusUsage: quote?.plusUsage ?? false,
      discountUnknown: quote?.discountUnknown ?? false,
      period: periodText(renewing.interval, renewing.intervalCount),
    },
    renewal: { at: ref.renewsAt },
    fold,
  };
  const summary = usageSummary(activity);
  const plain: RenewalNoteFacts = { ...base, usage: summary ? { summary } : null, intervention: null, upgrade: null, risk: null };
  let facts = plain;
  if (fold === 'save' && risk && plan) {
    const offer = await saveOffer(db, ref.workspaceId, { plan, mapping, reasons: risk.reasons, settings: churn });
    facts = { ...plain, intervention: offer.intervention, risk: { score: risk.score, threshold: churn.threshold, reasons: risk.reasons } };
  } else if (fold === 'upgrade' && upgrade && plan) {
    const pitch = await pitchFacts(db, ref.workspaceId, plan, upgrade, activity.windowDays);
    // The use near the limit is the one the note cites, under `usage` as every play's (the redaction hides it there).
    facts = { ...plain, usage: pitch.usage ? { summary: `${pitch.usage.summary}, in the last ${pitch.usage.windowDays} days` } : plain.usage, upgrade: { target: pitch.target, seats: pitch.seats } };
  }
  return { facts, to: parties.customer.email };
}

export function createRenewalActivities(deps: RenewalActivityDeps) {
  const { db, log } = deps;
  /**
   * Whether this note's draft pitches an upgrade to a customer whose churn risk has
   * since reached the churn play's threshold: the expansion play ends a waiting pitch
   * then, and a note should not sell more to someone about to leave. The note drafted
   * again folds in no upgrade while the risk stays (buildNoteFacts, the same rule).
   */
  const upgradeTurnedRisky = async (input: RenewalNoteRef, now: Date, draft: Draft | undefined): Promise<boolean> => {
    // The draft's template is the fold it took (recordFold writes the same on the row).
    if (draft?.templateKey !== 'upgrade') return false;
    const [risk, threshold] = await Promise.all([
      customerActivity(db, input.workspaceId, input.customerId, now).then((activity) => churnRiskOf(db, input.workspaceId, input.customerId, now, activity)),
      churnThreshold(db, input.workspaceId),
    ]);
    return atChurnRisk(risk, threshold);
  };
  return {
    /**
     * Brings the note's draft in line with the play's mode (activities/outreach-draft.ts),
     * cancelling it when the subscription will not renew any more, has renewed
     * already (the note would come too late), renews at another date now, a
     * dunning began, or an upgrade it pitches went to a customer now at churn risk.
     */
    async prepareRenewalNote(input: RenewalNoteRef): Promise<NoteState> {
      return prepareOutreachDraft<NoteEnd, { renewing: LongTermItem; plan: CustomerPlan | null }>(deps, { ...input, rowId: input.noteId }, {
        play: RENEWAL_PLAY,
        step: NOTE_STEP,
        actor: ACTOR,
        playName: 'the renewal play',
        async check(now, draft) {
          const [state, renewing, plan, dunning] = await Promise.all([
            renewalState(db, input.workspaceId, input.subscriptionId, new Date(input.renewsAt)),
            renewingItem(db, input.workspaceId, input.subscriptionId),
            subscriptionPlan(db, input.workspaceId, input.customerId, input.subscriptionId),
            inDunning(db, input.workspaceId, input.customerId),
          ]);
          if (state === 'renewed') return { ended: 'renewed', reason: 'the subscription renewed before the note went' };
          if (state === 'moved') return { ended: 'moved', reason: 'the renewal moved to another date: the next look writes about that one' };
          // Whether it renews is the subscription's say; a plan of no fixed amount (billed on use, tiers not synced yet) renews all the same.
          if (state === 'not_renewing' || !renewing) return { ended: 'not_renewing', reason: 'the subscription will not renew any more' };
          if (dunning) return { ended: 'in_dunning', reason: 'a dunning began: that play writes to the customer now' };
          if (await upgradeTurnedRisky(input, now, draft)) {
            return { ended: 'refolded', reason: "the customer's churn risk reached the churn play's threshold while an upgrade waited: the next look drafts the note again" };
          }
          return { seen: { renewing, plan } };
        },
        async build(now, seen) {
          // Read for the first draft only: a waiting note's polls do not need the customer's use.
          const activity = await customerActivity(db, input.workspaceId, input.customerId, now);
          const risk = await churnRiskOf(db, input.workspaceId, input.customerId, now, activity);
          const built = await buildNoteFacts(deps, input, now, { ...seen, activity, risk });
          if (!built.to) return { ended: 'no_email' };
          const fold = built.facts.fold;
          return { templateKey: fold, builtIn: DEFAULT_RENEWAL_TEMPLATES[fold], emailFacts: emailFacts(built.facts), facts: built.facts, to: built.to };
        },
        onReady: async (d) => {
          if (d.templateKey) await recordFold(db, input.noteId, d.templateKey as RenewalFold);
        },
      });
    },

    /** Records how the note ended. */
    async closeRenewalNote(input: RenewalNoteRef & { outcome: RenewalOutcome }): Promise<void> {
      const note = await renewalNoteRows.close(db, input.noteId, input.outcome, new Date());
      if (note) log.info({ workspaceId: input.workspaceId, customerId: input.customerId, noteId: input.noteId, outcome: note.outcome, fold: note.fold }, 'renewal note ended');
    },
  };
}

export type RenewalActivities = ReturnType<typeof createRenewalActivities>;

/**
 * The renewal play as a scanned play: each long-term subscription renewing within the
 * workspace's `daysBefore` gets one note (db/renewal-notes.ts keeps out customers in
 * dunning or with another play's email open, until it closes).
 */
export const RENEWAL_SCAN: OutreachPlay<RenewalNote, RenewalOutcome, 'renewalNoteWorkflow'> = {
  play: RENEWAL_PLAY,
  name: 'renewal scan',
  workflowType: 'renewalNoteWorkflow',
  workflowArgs: (note) => ({ noteId: note.id, subscriptionId: note.subscriptionId, renewsAt: note.renewsAt.toISOString() }),
  rows: renewalNoteRows,
  closedOff: 'off',
  closedLost: 'lost',
  overdueAfterMs: RENEWAL_REVIEW_MAX_MS + DAY_MS,
  async open(db, workspaceId, play, now) {
    const settings = renewalSettings(play.config);
    const { renewing, opened } = await openRenewalNotes(db, workspaceId, { now, from: new Date(now.getTime() + RENEWAL_SOONEST_MS), until: new Date(now.getTime() + settings.daysBefore * DAY_MS) });
    return { candidates: renewing, opened: opened.length };
  },
};

/** One look at every workspace whose renewal play is not off (activities/outreach-scan.ts). */
export function scanRenewals(deps: OutreachScanDeps, now: Date, onlyWorkspaces?: string[], stopping?: () => boolean): Promise<OutreachScan> {
  return scanOutreach(deps, RENEWAL_SCAN, now, onlyWorkspaces, stopping);
}
