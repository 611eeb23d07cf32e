import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';

type Activities = ReturnType<typeof createActivities>;

/**
 * The activities of the one-email plays (churn save, expansion pitch, renewal note).
 * Reads and draft bookkeeping are local (no round trip through the server each),
 * retried until they work.
 */
export const outreachLocal = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});

/** Sending: a provider's 429/5xx is retried with backoff; the send ledger keeps the draft to one email. */
export const outreachSend = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '30 minutes' },
}).sendDraft;

/** A waiting review re-reads the draft, the mode and the customer this often (signals wake it sooner). */
export const REVIEW_POLL_MS = 6 * 3_600_000;
