#!/usr/bin/env bash
# A local PostgreSQL server on loopback, for the launcher and the tests.
#   scripts/pg.sh start DATA_DIR PORT   initialise (first time) and start; creates database "wysera"
#   scripts/pg.sh stop DATA_DIR         fast shutdown
# Login: user "wysera", password "wysera", on 127.0.0.1:PORT only.
# PostgreSQL refuses to run as root, so as root the server runs as the "postgres"
# system user (created by Debian's package) and owns DATA_DIR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

cmd="${1:-}"; data="${2:-}"
[ -n "$cmd" ] && [ -n "$data" ] || die "usage: scripts/pg.sh start DATA_DIR PORT | stop DATA_DIR"
bindir="$(pg_bindir)" || die "PostgreSQL server not found: run scripts/install-tools.sh (Debian: apt-get install postgresql)"
mkdir -p "$data"
data="$(cd "$data" && pwd)"

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' system user (apt-get install postgresql creates it)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    port="${3:?port required}"
    if [ "$(id -u)" = 0 ]; then
      chown postgres: "$data"; chmod 700 "$data"
      runuser -u postgres -- test -x "$data" \
        || die "the postgres user cannot reach $data (a parent folder is private): choose a data folder under /tmp or /var/lib"
    fi
    if [ ! -s "$data/PG_VERSION" ]; then
      step "initialising PostgreSQL in $data"
      pw="$(mktemp)"; echo wysera > "$pw"; chmod 644 "$pw"
      as_owner "$bindir/initdb" -D "$data" -U wysera --pwfile="$pw" --auth=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
      rm -f "$pw"
    fi
    if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      info "PostgreSQL already running in $data"
    else
      step "starting PostgreSQL on 127.0.0.1:$port"
      as_owner "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
        -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=${WYSERA_PG_FSYNC:-on}" >/dev/null \
        || { tail -n 20 "$data/server.log" >&2; die "PostgreSQL did not start (log: $data/server.log)"; }
    fi
    if ! PGPASSWORD=wysera "$bindir/psql" -h 127.0.0.1 -p "$port" -U wysera -d postgres -tAc \
        "select 1 from pg_database where datname='wysera'" | grep -q 1; then
      PGPASSWORD=wysera "$bindir/psql" -h 127.0.0.1 -p "$port" -U wysera -d postgres -qc 'create database wysera'
    fi
    ;;
  stop)
    if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
      info "PostgreSQL in $data stopped"
    fi
    ;;
  *) die "unknown command '$cmd'" ;;
esac
