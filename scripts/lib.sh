# Shared helpers for the tool scripts. Source it; do not run it.
# Tools are built once per machine into a cache outside the repository so that a
# second run of the launcher or of the tests takes seconds.

WYSERA_CACHE="${WYSERA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wysera}"
TOOLS_DIR="$WYSERA_CACHE/tools"

# Pinned versions. v1.5.1 is the last Temporal CLI that `go install` can build
# (later go.mod files carry a replace directive).
TEMPORAL_CLI_VERSION="v1.5.1"
STRIPE_MOCK_VERSION="v0.197.0"
TEMPORAL_TEST_SERVER_VERSION="1.38.0"

TEMPORAL_BIN="$TOOLS_DIR/temporal-cli-$TEMPORAL_CLI_VERSION/temporal"
STRIPE_MOCK_BIN="$TOOLS_DIR/stripe-mock-$STRIPE_MOCK_VERSION/stripe-mock"
TEST_SERVER_DIR="$TOOLS_DIR/temporal-test-server-$TEMPORAL_TEST_SERVER_VERSION"
TEST_SERVER_BIN="$TEST_SERVER_DIR/temporal-test-server"

step() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# need CMD "what to install": stop with one clear message when a prerequisite is absent.
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is required but not installed. $2"
}

# The newest PostgreSQL server binaries installed from Debian's packages.
pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/postgres" ] && echo "$dir"
}
