import { SimAccount, type GenerateOptions } from './account';

export type { GenerateOptions, LifecycleCounts } from './account';
export { SimAccount } from './account';

/**
 * A deterministic SaaS billing history: the same options always give the same
 * account, ids and amounts included. 5,000 customers over 24 months take a few
 * seconds. The account keeps living: `account.advance(seconds)` plays on.
 */
export function generateAccount(opts: GenerateOptions): SimAccount {
  return new SimAccount(opts);
}
