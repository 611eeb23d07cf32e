import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

describe('workflow determinism lint', () => {
  it('catches Node built-ins, activity values, client imports, clocks, randomness and process', async () => {
    const eslint = new ESLint({ cwd: path.resolve(__dirname, '../..'), ignore: false });
    const [result] = await eslint.lintFiles(['tests/fixtures/lint/workflows/nondeterministic.ts']);
    const found = result!.messages.map((m) => `${m.line}:${m.ruleId}`);
    expect(found).toEqual(
      expect.arrayContaining([
        '4:@typescript-eslint/no-restricted-imports', // fs
        '5:@typescript-eslint/no-restricted-imports', // node:crypto
        '6:@typescript-eslint/no-restricted-imports', // activity value
        '7:@typescript-eslint/no-restricted-imports', // @temporalio/client
        '10:no-restricted-properties', // Date.now
        '11:no-restricted-properties', // Math.random
        '15:no-restricted-globals', // process
      ]),
    );
  });
});
