#!/usr/bin/env bash
# Runs Wysera locally with embedded defaults: a PostgreSQL server and the Temporal
# dev server (both on loopback, data under $WYSERA_DATA_DIR, default ./.wysera),
# migrations, the worker and the API. Ctrl-C stops everything it started.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/lib.sh"
cd "$root"

data="${WYSERA_DATA_DIR:-$root/.wysera}"
pg_port="${WYSERA_PG_PORT:-54320}"
temporal_port="${WYSERA_TEMPORAL_PORT:-7233}"
ui_port="${WYSERA_TEMPORAL_UI_PORT:-8233}"
api_port="${PORT:-3000}"
mkdir -p "$data/logs"
data="$(cd "$data" && pwd)"

bash "$here/install-tools.sh"
bash "$here/ensure-node-modules.sh"

pids=()
cleanup() {
  trap - INT TERM EXIT
  step "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash "$here/pg.sh" stop "$data/postgres" || true
  info "all stopped"
}
trap cleanup INT TERM EXIT

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for_port() { # PORT WHAT PID
  for _ in $(seq 1 240); do
    port_busy "$1" && return 0
    kill -0 "$3" 2>/dev/null || die "$2 exited while starting (see $data/logs)"
    sleep 0.25
  done
  die "$2 did not open port $1 within 60 s (see $data/logs)"
}
for p in "$temporal_port" "$ui_port" "$api_port"; do
  port_busy "$p" && die "port $p is already in use: stop what uses it, or set WYSERA_TEMPORAL_PORT / WYSERA_TEMPORAL_UI_PORT / PORT"
done

bash "$here/pg.sh" start "$data/postgres" "$pg_port"

step "starting the Temporal dev server on 127.0.0.1:$temporal_port (UI :$ui_port)"
# Below the API (webhooks cannot wait) and above the worker's plays (WORKER_PLAYS_NICE):
# the relay's signals wait on it, the plays' own work can (see BENCHMARKS.md).
nice -n 5 "$TEMPORAL_BIN" server start-dev --ip 127.0.0.1 --port "$temporal_port" --ui-port "$ui_port" \
  --db-filename "$data/temporal.db" --log-level warn >"$data/logs/temporal.log" 2>&1 &
pids+=($!)
wait_for_port "$temporal_port" "Temporal" "${pids[-1]}"

keys_file="$data/encryption-keys"
if [ ! -s "$keys_file" ]; then
  step "generating an encryption key for secrets at rest ($keys_file)"
  (umask 077; echo "k1:$(head -c 32 /dev/urandom | base64)" >"$keys_file")
fi

export DATABASE_URL="${DATABASE_URL:-postgres://wysera:wysera@127.0.0.1:$pg_port/wysera}"
export TEMPORAL_ADDRESS="127.0.0.1:$temporal_port"
export WYSERA_ENCRYPTION_KEYS="${WYSERA_ENCRYPTION_KEYS:-$(cat "$keys_file")}"
export PORT="$api_port"
export HOST="${HOST:-127.0.0.1}"

# Without a Stripe key, run against the simulator: a generated SaaS account that
# keeps living (signups, renewals, failed payments arrive as signed webhooks).
demo=""
if [ -z "${STRIPE_API_KEY:-}" ]; then
  demo=1
  sim_port="${WYSERA_SIM_PORT:-12112}"
  port_busy "$sim_port" && die "port $sim_port (the Stripe simulator) is in use: stop what uses it, or set WYSERA_SIM_PORT"
  step "no STRIPE_API_KEY: starting the Stripe simulator with a generated demo account on 127.0.0.1:$sim_port (logs: $data/logs/sim.log)"
  ./node_modules/.bin/tsx sim/main.ts --seed "${WYSERA_DEMO_SEED:-demo}" --customers "${WYSERA_DEMO_CUSTOMERS:-300}" --months 24 \
    --port "$sim_port" --rate-limit 25 --live >"$data/sim.json" 2>"$data/logs/sim.log" &
  pids+=($!)
  wait_for_port "$sim_port" "the Stripe simulator" "${pids[-1]}"
  export STRIPE_API_BASE="http://127.0.0.1:$sim_port"
  # Emails of the demo go to a local SendGrid- and SES-compatible receiver, never out,
  # through whichever provider a workspace brings.
  email_port="${WYSERA_EMAIL_PORT:-8025}"
  port_busy "$email_port" && die "port $email_port (the demo email receiver) is in use: stop what uses it, or set WYSERA_EMAIL_PORT"
  step "starting the demo email receiver on 127.0.0.1:$email_port (what would be sent: /_receiver/messages)"
  ./node_modules/.bin/tsx sim/email-receiver.ts "$email_port" >"$data/logs/email.log" 2>&1 &
  pids+=($!)
  wait_for_port "$email_port" "the email receiver" "${pids[-1]}"
  export SENDGRID_API_KEY="SG.demo" SENDGRID_API_BASE="http://127.0.0.1:$email_port" SES_ENDPOINT="http://127.0.0.1:$email_port" EMAIL_DEFAULT_FROM="billing@demo.wysera.test"
  # Password reset links (their emails land in the receiver too) point at this server.
  export WYSERA_PUBLIC_URL="${WYSERA_PUBLIC_URL:-http://localhost:$api_port}"
  if [ -z "${WYSERA_OPERATOR_TOKEN:-}" ]; then
    token_file="$data/operator-token"
    [ -s "$token_file" ] || (umask 077; node -e 'console.log(require("crypto").randomBytes(24).toString("hex"))' >"$token_file")
    export WYSERA_OPERATOR_TOKEN="$(cat "$token_file")"
  fi
fi

step "migrating the database"
./node_modules/.bin/tsx db/migrate.ts

step "starting the worker (logs: $data/logs/worker.log)"
# At the API's priority: the worker keeps its relay there and lowers its plays' threads
# itself (WORKER_PLAYS_NICE), so webhooks and the relay come first, the plays catch up.
./node_modules/.bin/tsx workers/main.ts >"$data/logs/worker.log" 2>&1 &
pids+=($!)
step "starting the API (logs: $data/logs/api.log)"
./node_modules/.bin/tsx api/main.ts >"$data/logs/api.log" 2>&1 &
pids+=($!)
wait_for_port "$api_port" "the API" "${pids[-1]}"

if [ -n "$demo" ]; then
  # json FILE KEY: one field of a JSON file.
  json() { node -e 'const v=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))[process.argv[2]]; if (v === undefined) process.exit(1); console.log(v)' "$1" "$2"; }
  demo_file="$data/demo-workspace.json"
  api_url="http://$HOST:$api_port"
  export WYSERA_API_URL="$api_url"
  if [ -s "$demo_file" ] && curl -fsS -o /dev/null -H "authorization: Bearer $(json "$demo_file" ownerToken)" "$api_url/workspaces/$(json "$demo_file" workspaceId)"; then
    step "demo workspace $(json "$demo_file" workspaceId) exists: re-syncing it with the simulator"
    WYSERA_TOKEN="$(json "$demo_file" ownerToken)" WYSERA_WORKSPACE="$(json "$demo_file" workspaceId)" \
      ./node_modules/.bin/tsx scripts/wysera.ts sync >/dev/null || info "could not start the re-sync (see $data/logs/api.log)"
  else
    step "creating the demo workspace, connected to the simulator"
    secret="whsec_$(node -e 'console.log(require("crypto").randomBytes(16).toString("hex"))')"
    STRIPE_API_KEY="$(json "$data/sim.json" restrictedKey)" STRIPE_WEBHOOK_SECRET="$secret" \
      ./node_modules/.bin/tsx scripts/wysera.ts workspace create --name "Demo (simulated Stripe)" --json >"$demo_file.new" \
      || die "could not create the demo workspace (see $data/logs/api.log)"
    node -e 'const fs=require("fs"); const j=JSON.parse(fs.readFileSync(process.argv[1],"utf8")); j.webhookSecret=process.argv[2]; fs.writeFileSync(process.argv[3], JSON.stringify(j)+"\n", {mode: 0o600})' \
      "$demo_file.new" "$secret" "$demo_file"
    rm -f "$demo_file.new"
  fi
  demo_ws="$(json "$demo_file" workspaceId)"
  # The simulator starts afresh each run: tell it where to send the account's webhooks.
  curl -fsS -o /dev/null -X POST "$STRIPE_API_BASE/_sim/webhooks" -H 'content-type: application/json' \
    -d "{\"url\":\"$api_url/webhooks/stripe/$demo_ws\",\"secret\":\"$(json "$demo_file" webhookSecret)\"}" \
    || info "could not register the webhook endpoint with the simulator"
  # A person to sign in to the web UI as: the demo owner, with a password made on the
  # first run and kept beside the data (set again each run, so it always works).
  demo_email="demo@wysera.local"
  password_file="$data/demo-password"
  [ -s "$password_file" ] || (umask 077; node -e 'console.log(require("crypto").randomBytes(18).toString("base64url"))' >"$password_file")
  demo_password="$(cat "$password_file")"
  ./node_modules/.bin/tsx scripts/access.ts owner create --workspace "$demo_ws" --email "$demo_email" --password-stdin --no-token \
    <"$password_file" >/dev/null 2>"$data/logs/demo-owner.log" || die "could not create the demo owner (see $data/logs/demo-owner.log)"
  step "syncing the demo account (owner token in $demo_file)"
  WYSERA_TOKEN="$(json "$demo_file" ownerToken)" WYSERA_WORKSPACE="$demo_ws" \
    ./node_modules/.bin/tsx scripts/wysera.ts sync status --watch || info "the sync did not finish; see $data/logs/worker.log"
  # The simulated business's product reports its customers' usage, logins and tickets
  # of the last 60 days, as a real product would through the signals API. Sent again
  # each run: the days already sent are duplicates.
  step "sending the simulated product's signals of the last 60 days (log: $data/logs/demo-signals.log)"
  curl -fsS "$STRIPE_API_BASE/_sim/product-signals?days=60" \
    | WYSERA_TOKEN="$(json "$demo_file" ownerToken)" WYSERA_WORKSPACE="$demo_ws" ./node_modules/.bin/tsx scripts/wysera.ts signals send - >"$data/logs/demo-signals.log" 2>&1 \
    || info "could not send the demo's product signals (see $data/logs/demo-signals.log)"
  # The churn radar's first look now, not at the worker's first hourly scan: its save
  # drafts (review mode) wait on the Drafts page.
  step "asking the churn radar to look at the demo's customers"
  curl -fsS -X POST "$api_url/workspaces/$demo_ws/churn-radar/scan" -H "authorization: Bearer $(json "$demo_file" ownerToken)" >&2 \
    && echo >&2 || info "the churn radar could not look now; the worker's scan will (see $data/logs/api.log)"
  # And the expansion play's: customers near their plan's report limit get a pitch draft.
  step "asking the expansion play to look at the demo's customers"
  curl -fsS -X POST "$api_url/workspaces/$demo_ws/expansion/scan" -H "authorization: Bearer $(json "$demo_file" ownerToken)" >&2 \
    && echo >&2 || info "the expansion play could not look now; the worker's scan will (see $data/logs/api.log)"
  # And the renewal play's: quarterly and annual subscriptions renewing within 30 days get a note.
  step "asking the renewal play to look at the demo's renewals"
  curl -fsS -X POST "$api_url/workspaces/$demo_ws/renewals/scan" -H "authorization: Bearer $(json "$demo_file" ownerToken)" >&2 \
    && echo >&2 || info "the renewal play could not look now; the worker's scan will (see $data/logs/api.log)"
fi

cat >&2 <<MSG

  Wysera is running.
    API          http://$HOST:$api_port   (health: /healthz, readiness: /readyz, metrics: /metrics)
    Webhooks     http://$HOST:$api_port/webhooks/stripe/<workspace id>
    Temporal UI  http://127.0.0.1:$ui_port
    Postgres     $DATABASE_URL
    Data         $data   (logs in $data/logs)
${demo:+    Sign in      http://localhost:$api_port/   email $demo_email   password $demo_password
    Stripe       simulated at $STRIPE_API_BASE (demo workspace and owner token: $data/demo-workspace.json)
    Emails       http://127.0.0.1:$email_port/_receiver/messages   (the demo sends nothing out)}

  Press Ctrl-C to stop everything.

MSG
# Exit (and clean up) as soon as any component dies.
wait -n "${pids[@]}"
die "a component exited unexpectedly; see $data/logs"
