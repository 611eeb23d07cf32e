import { describe, expect, it } from 'vitest';
import { warningThrottle } from '../../platform/warning-throttle';

describe('warningThrottle', () => {
  it('lets a key through once per interval, telling then how often it was held back, each key on its own', () => {
    let now = 1_000_000;
    const pass = warningThrottle(600_000, () => now);
    expect(pass('ws_a')).toEqual({ heldBack: 0 });
    now += 1_000;
    expect(pass('ws_a')).toBeNull();
    expect(pass('ws_b')).toEqual({ heldBack: 0 });
    now += 598_999;
    expect(pass('ws_a')).toBeNull();
    now += 1;
    expect(pass('ws_a')).toEqual({ heldBack: 2 });
    expect(pass('ws_a')).toBeNull();
    now += 600_000;
    expect(pass('ws_a')).toEqual({ heldBack: 1 });
    expect(pass('ws_b')).toEqual({ heldBack: 0 });
  });
});
