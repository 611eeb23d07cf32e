import { describe, expect, it } from 'vitest';
import { scheduledMovement } from '../../web/src/movement-kinds';

describe("the customer page's MRR card", () => {
  const now = new Date('2026-11-30T00:00:00Z');
  it('names the first movement still ahead, as a cancellation for the end of the period is stored', () => {
    const movements = [
      { at: '2026-01-01T11:54:00Z', kind: 'new' },
      { at: '2027-01-01T11:54:00Z', kind: 'churn' },
      { at: '2027-03-01T00:00:00Z', kind: 'reactivation' },
    ];
    expect(scheduledMovement(movements, now)).toBe('Churn scheduled for 1 Jan 2027, 11:54 UTC');
  });

  it('says nothing when every movement is past', () => {
    expect(scheduledMovement([{ at: '2026-01-01T11:54:00Z', kind: 'new' }], now)).toBeUndefined();
    expect(scheduledMovement([], now)).toBeUndefined();
  });
});
