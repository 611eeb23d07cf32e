import { describe, expect, it } from 'vitest';
import { customerWorkflowId, parseWorkflowId } from '../../workflows/ids';

describe('workflow ids', () => {
  it('round-trips a customer workflow id', () => {
    const id = customerWorkflowId('ws_a', 'cus_b');
    expect(id).toBe('customer:ws_a:cus_b');
    expect(parseWorkflowId(id)).toEqual({ play: 'customer', workspaceId: 'ws_a', subject: 'cus_b' });
  });

  it('refuses parts that would make ids ambiguous', () => {
    expect(() => customerWorkflowId('ws:a', 'cus_b')).toThrow(/workspaceId/);
    expect(() => customerWorkflowId('ws_a', '')).toThrow(/customerId/);
    expect(() => parseWorkflowId('other:ws_a:x')).toThrow(/not a Wysera workflow id/);
  });
});
