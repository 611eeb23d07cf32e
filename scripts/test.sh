#!/usr/bin/env bash
# The whole test suite: lint, type check, then every test against a real Postgres
# and a real Temporal server (started by tests/setup/global.ts). Installs what is
# missing first, so it works on a fresh machine; cached tools make re-runs fast.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
cd "$here/.."

bash "$here/install-tools.sh" --with-browser
bash "$here/ensure-node-modules.sh"

step "lint"
./node_modules/.bin/eslint .
step "type check"
./node_modules/.bin/tsc --noEmit -p tsconfig.json
./node_modules/.bin/tsc --noEmit -p web
step "tests"
mkdir -p test-results
status=0
./node_modules/.bin/vitest run "$@" || status=$?
# One plain summary line for CI logs.
if [ -s test-results/vitest.json ]; then
  node -e '
    const r = require("./test-results/vitest.json");
    const skipped = r.numPendingTests + r.numTodoTests;
    // A file that fails to load has no failed test of its own: count it as one.
    const brokenFiles = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests + brokenFiles} failed` + (skipped ? `, ${skipped} skipped` : ""));'
fi
exit $status
