import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');

describe('domain modules the web UI bundles', () => {
  it('price a plan without zod: the Plans page ranks plans by what a price charges (domain/price-amount.ts)', async () => {
    const result = await build({
      entryPoints: ['domain/product-mapping.ts', 'domain/price-amount.ts', 'domain/period-months.ts'].map((f) => path.join(root, f)),
      bundle: true,
      write: false,
      outdir: path.join(root, 'out'),
      platform: 'browser',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('domain/price-amount.ts');
    expect(inputs.filter((f) => f.includes('node_modules/'))).toEqual([]);
  });
});
