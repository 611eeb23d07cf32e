import { HOUR_MS } from './durations';

/**
 * Recovery analytics of dunning over a period (cases whose payment failed in it),
 * per currency (amounts in different currencies are never added up):
 * - failed: every case's amount due;
 * - recovered: cases paid (by the customer, or marked paid out of band);
 * - recovery rate = recovered / failed, by amount and by count; cancelled cases
 *   (invoice voided or uncollectible, subscription ended, dunning discarded) stay in
 *   the denominator, and so do cases still running;
 * - per step: of the cases whose sequence reached step k (an email of step k went
 *   out), how many recovered with step k as the last email sent; "before any email"
 *   counts recoveries with no email sent (Stripe's own retry succeeded first). A
 *   dunning begun late starts at the step due by then, so the steps it skipped are
 *   not reached: they were never emailed;
 * - median time to recover, from the failed payment to the recovery.
 */
export type CaseOutcome = 'recovered' | 'paid_out_of_band' | 'invoice_closed' | 'subscription_deleted' | 'discarded' | 'exhausted';

export interface RecoveryCase {
  currency: string;
  amountDue: number;
  failedAt: Date;
  outcome: CaseOutcome | null;
  lastStepSent: number | null;
  /**
   * The steps emailed, when known (recorded at the close, or filled in from the sent
   * drafts by migration 019); null for older cases without either, read as every step up
   * to lastStepSent: exact for a dunning begun on time whose every email went out, an
   * over-count for one that skipped a step (review not done in time, a discarded email).
   */
  stepsSent: number[] | null;
  endedAt: Date | null;
}

/** Whether an email of step k went out for the case. */
export function reachedStep(c: Pick<RecoveryCase, 'lastStepSent' | 'stepsSent'>, k: number): boolean {
  if (c.stepsSent) return c.stepsSent.includes(k);
  return c.lastStepSent !== null && c.lastStepSent >= k;
}

export interface StepRecovery {
  /** null: recovered before any email was sent. */
  step: number | null;
  reached: number;
  recovered: number;
  recoveredAmount: number;
  /** recovered / reached, null when no case reached the step. */
  rate: number | null;
}

export interface CurrencyRecovery {
  currency: string;
  cases: number;
  running: number;
  recoveredCases: number;
  cancelledCases: number;
  exhaustedCases: number;
  failedAmount: number;
  recoveredAmount: number;
  /** recoveredAmount / failedAmount. */
  recoveryRate: number | null;
  /** recoveredCases / cases. */
  caseRecoveryRate: number | null;
  perStep: StepRecovery[];
  medianHoursToRecover: number | null;
}

const isRecovered = (o: CaseOutcome | null) => o === 'recovered' || o === 'paid_out_of_band';
const isCancelled = (o: CaseOutcome | null) => o === 'invoice_closed' || o === 'subscription_deleted' || o === 'discarded';
const ratio = (a: number, b: number) => (b === 0 ? null : a / b);

export function median(values: number[]): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function recoveryReport(cases: RecoveryCase[]): CurrencyRecovery[] {
  const byCurrency = new Map<string, RecoveryCase[]>();
  for (const c of cases) {
    const key = c.currency.toLowerCase();
    byCurrency.set(key, [...(byCurrency.get(key) ?? []), c]);
  }
  return [...byCurrency.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, list]) => {
      const recovered = list.filter((c) => isRecovered(c.outcome));
      const maxStep = Math.max(-1, ...list.map((c) => c.lastStepSent ?? -1));
      const perStep: StepRecovery[] = [];
      const before = recovered.filter((c) => c.lastStepSent === null);
      perStep.push({ step: null, reached: list.length, recovered: before.length, recoveredAmount: sum(before), rate: ratio(before.length, list.length) });
      for (let k = 0; k <= maxStep; k++) {
        const reached = list.filter((c) => reachedStep(c, k)).length;
        const at = recovered.filter((c) => c.lastStepSent === k);
        perStep.push({ step: k, reached, recovered: at.length, recoveredAmount: sum(at), rate: ratio(at.length, reached) });
      }
      const hours = recovered.filter((c) => c.endedAt).map((c) => (c.endedAt!.getTime() - c.failedAt.getTime()) / HOUR_MS);
      const failedAmount = sum(list);
      const recoveredAmount = sum(recovered);
      return {
        currency,
        cases: list.length,
        running: list.filter((c) => c.outcome === null).length,
        recoveredCases: recovered.length,
        cancelledCases: list.filter((c) => isCancelled(c.outcome)).length,
        exhaustedCases: list.filter((c) => c.outcome === 'exhausted').length,
        failedAmount,
        recoveredAmount,
        recoveryRate: ratio(recoveredAmount, failedAmount),
        caseRecoveryRate: ratio(recovered.length, list.length),
        perStep,
        medianHoursToRecover: median(hours),
      };
    });
}

function sum(list: RecoveryCase[]): number {
  return list.reduce((s, c) => s + c.amountDue, 0);
}
