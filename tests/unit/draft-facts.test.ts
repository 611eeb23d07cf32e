import { describe, expect, it } from 'vitest';
import { factLabel, listedFact, scalar } from '../../web/src/facts';

describe("a draft's facts on its page", () => {
  it('lists risk reasons one a line in their own words, with their points, never as JSON', () => {
    const reasons = [
      { code: 'cancellation_scheduled', text: 'Cancellation scheduled: their subscription ends on 2027-01-01', points: 50 },
      { code: 'no_recent_login', text: 'No login for 59 days', points: 20 },
    ];
    expect(listedFact(reasons)).toBe('Cancellation scheduled: their subscription ends on 2027-01-01 (50 points)\nNo login for 59 days (20 points)');
  });

  it('keeps plain lists on one line, and shows entries without words as they are', () => {
    expect(listedFact(['usage_down', 'cancellation_scheduled'])).toBe('usage_down, cancellation_scheduled');
    expect(listedFact([{ code: 'x' }, 'y'])).toBe('{"code":"x"}\ny');
    expect(scalar(null)).toBe('—');
    expect(scalar(true)).toBe('true');
  });

  it('labels a fact by its path', () => {
    expect(factLabel('intervention.currentPrice')).toBe('Intervention · current price');
  });
});
