import { describe, expect, it } from 'vitest';
import { workflowBundle } from '../helpers/temporal';

/** The npm packages whose modules the bundle holds (webpack marks each module with its path). */
function bundledPackages(code: string): Set<string> {
  const packages = new Set<string>();
  for (const [, name] of code.matchAll(/^\/\*\*\*\/ "\.\/node_modules\/((?:@[^/"]+\/)?[^/"]+)\//gm)) packages.add(name!);
  return packages;
}

describe('workflow bundle', () => {
  // Every workflow run evaluates the bundle's modules afresh when it starts (a customer
  // workflow per customer, a dunning per failed invoice), so a library pulled into
  // workflow code is paid for on every start: zod's schemas once cost about 1 ms each.
  it("holds only the Temporal workflow runtime's packages", async () => {
    const { code } = await workflowBundle();
    const packages = bundledPackages(code);
    expect(packages.has('@temporalio/workflow')).toBe(true);
    expect([...packages].filter((p) => !/^@temporalio\/(workflow|common)$|^(nexus-rpc|ms|long)$/.test(p)).sort()).toEqual([]);
  });
});
