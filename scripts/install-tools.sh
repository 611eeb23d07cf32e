#!/usr/bin/env bash
# Installs what Wysera needs to run and test locally: a PostgreSQL server, the
# Temporal CLI (dev server), stripe-mock and the time-skipping Temporal test server.
# Idempotent: each tool is built once into $WYSERA_CACHE and reused afterwards.
# Usage: scripts/install-tools.sh [--with-browser]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

with_browser=0
[ "${1:-}" = "--with-browser" ] && with_browser=1

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    die "missing $*: install it with 'sudo apt-get install $*' (or run this script as root)"
  fi
  need apt-get "This script installs system packages with apt; install $* by hand."
  if [ $apt_updated = 0 ]; then
    step "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  step "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# go_tool BIN MODULE@VERSION: build a Go tool through the Go module proxy.
go_tool() {
  local bin="$1" module="$2"
  if [ -x "$bin" ]; then
    info "$(basename "$bin") $(basename "$(dirname "$bin")") cached"
    return
  fi
  need go "Install Go 1.22 or newer (https://go.dev/dl) or your distribution's golang package."
  step "building $module (once; cached in $(dirname "$bin"))"
  mkdir -p "$(dirname "$bin")"
  local tmp
  tmp=$(mktemp -d)
  CGO_ENABLED=0 GOBIN="$tmp" go install "$module" >&2
  mv "$tmp"/* "$bin"
  rmdir "$tmp"
}

step "PostgreSQL server"
if [ -z "$(pg_bindir)" ]; then
  apt_install postgresql
fi
info "using $(pg_bindir)"

step "Temporal CLI $TEMPORAL_CLI_VERSION"
go_tool "$TEMPORAL_BIN" "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"

step "stripe-mock $STRIPE_MOCK_VERSION"
go_tool "$STRIPE_MOCK_BIN" "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"

step "Temporal time-skipping test server $TEMPORAL_TEST_SERVER_VERSION"
if [ -s "$TEST_SERVER_DIR/classpath.txt" ]; then
  info "cached"
else
  need java "Install a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless)."
  need mvn "Install Maven (Debian: apt-get install maven)."
  mkdir -p "$TEST_SERVER_DIR"
  cat > "$TEST_SERVER_DIR/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.wysera</groupId><artifactId>temporal-test-server-deps</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId>
      <version>$TEMPORAL_TEST_SERVER_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
  info "resolving io.temporal:temporal-test-server:$TEMPORAL_TEST_SERVER_VERSION from Maven Central"
  mvn -q -B -f "$TEST_SERVER_DIR/pom.xml" dependency:build-classpath \
    -Dmdep.outputFile="$TEST_SERVER_DIR/classpath.txt" >&2
fi
# Rewritten every run (it is tiny), so changes to it reach cached machines. The JVM
# flags halve start-up time: the SDK gives the server only 5 s to come up.
cat > "$TEST_SERVER_BIN" <<SH
#!/bin/sh
# Temporal's time-skipping test server; the first argument is the port.
exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "\$(cat "$TEST_SERVER_DIR/classpath.txt")" io.temporal.testserver.TestServer "\$@"
SH
chmod +x "$TEST_SERVER_BIN"

if [ $with_browser = 1 ]; then
  step "Chromium for browser tests"
  if [ -x /usr/bin/chromium ]; then info "cached"; else apt_install chromium; fi
fi

step "tools ready in $TOOLS_DIR"
