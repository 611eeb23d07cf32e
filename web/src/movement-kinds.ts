import { when } from './format';

/** The five ways a customer's MRR moves (docs/metrics.md), in the order the charts stack them. */
export type Kind = 'new' | 'expansion' | 'contraction' | 'churn' | 'reactivation';

export const KINDS: { key: Kind; label: string; negative: boolean }[] = [
  { key: 'new', label: 'New business', negative: false },
  { key: 'expansion', label: 'Expansion', negative: false },
  { key: 'reactivation', label: 'Reactivation', negative: false },
  { key: 'contraction', label: 'Contraction', negative: true },
  { key: 'churn', label: 'Churn', negative: true },
];

/**
 * The first of a customer's movements still ahead (time order), in words: a cancellation
 * for the end of the period is stored dated when it takes effect, and until then the
 * customer's MRR is what they pay now. Undefined when none is ahead.
 */
export function scheduledMovement(movements: readonly { at: string; kind: string }[], now = new Date()): string | undefined {
  const ahead = movements.find((m) => Date.parse(m.at) > now.getTime());
  if (!ahead) return undefined;
  return `${KINDS.find((k) => k.key === ahead.kind)?.label ?? ahead.kind} scheduled for ${when(ahead.at)}`;
}
