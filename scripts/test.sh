#!/usr/bin/env bash
# The whole test suite: lint, type check, then every test against a real Postgres
# and a real Temporal server (started by tests/setup/global.ts). Installs what is
# missing first, so it works on a fresh machine; cached tools make re-runs fast.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
cd "$here/.."

bash "$here/install-tools.sh"
bash "$here/ensure-node-modules.sh"

step "lint"
./node_modules/.bin/eslint .
step "type check"
./node_modules/.bin/tsc --noEmit -p tsconfig.json
step "tests"
mkdir -p test-results
status=0
./node_modules/.bin/vitest run "$@" || status=$?
# One plain summary line for CI logs.
if [ -s test-results/vitest.json ]; then
  node -e '
    const r = require("./test-results/vitest.json");
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));'
fi
exit $status
