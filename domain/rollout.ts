/**
 * Rollout modes of a play in a workspace, shared by every play (dunning, renewal,
 * churn, expansion):
 * - off: the play drafts nothing;
 * - review: drafts wait for a person to approve, edit or discard them;
 * - auto: drafts go out on schedule, optionally only for a percentage of customers
 *   (the others stay in review), chosen deterministically from the customer id so a
 *   customer does not flip between modes from one step to the next.
 */
export const ROLLOUT_MODES = ['off', 'review', 'auto'] as const;
export type RolloutMode = (typeof ROLLOUT_MODES)[number];

export interface RolloutSetting {
  mode: RolloutMode;
  /** With mode auto: the share of customers (0-100) sent automatically; null means all. */
  autoPercentage: number | null;
}

/** What a workspace gets before anyone changes the setting: review, so nothing goes out unseen. */
export const DEFAULT_ROLLOUT: RolloutSetting = { mode: 'review', autoPercentage: null };

/**
 * A stable bucket in [0, 100) for a customer: FNV-1a over the UTF-16 code units of
 * the workspace and customer ids. Pure and cheap, so workflows and activities agree.
 */
export function customerBucket(workspaceId: string, customerId: string): number {
  let hash = 0x811c9dc5;
  const input = `${workspaceId}:${customerId}`;
  for (let i = 0; i < input.length; i++) {
    hash ^= input.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 100;
}

/** The mode that applies to one customer under a workspace's setting. */
export function modeForCustomer(setting: RolloutSetting, workspaceId: string, customerId: string): RolloutMode {
  if (setting.mode !== 'auto' || setting.autoPercentage === null) return setting.mode;
  return customerBucket(workspaceId, customerId) < setting.autoPercentage ? 'auto' : 'review';
}
