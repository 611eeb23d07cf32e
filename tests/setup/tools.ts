import { execFileSync } from 'node:child_process';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..');

/** Paths of the tools scripts/install-tools.sh built (one definition: scripts/lib.sh). */
export function toolPaths(): { temporal: string; stripeMock: string; testServer: string; pgScript: string } {
  const out = execFileSync('bash', ['-c', '. scripts/lib.sh; echo "$TEMPORAL_BIN"; echo "$STRIPE_MOCK_BIN"; echo "$TEST_SERVER_BIN"'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  const [temporal, stripeMock, testServer] = out.trim().split('\n');
  return { temporal: temporal!, stripeMock: stripeMock!, testServer: testServer!, pgScript: path.join(repoRoot, 'scripts', 'pg.sh') };
}
