#!/usr/bin/env bash
# Installs the npm dependencies from the lockfile when they are missing or stale.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
cd "$here/.."
need node "Install Node.js 20.3 or newer."
need npm "Install npm (it comes with Node.js)."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund >&2
else
  info "npm dependencies up to date"
fi
