#!/usr/bin/env bash
# End-to-end order throughput and order-to-terminal latency of the embedded platform, on
# SQLite and then on PostgreSQL, in one invocation (loopback only, bounded in time).
#
#   scripts/bench-orders.sh [RATE] [DURATION]      (defaults: 40 orders/s for 30s)
#
# Needs PostgreSQL on 127.0.0.1:5432 (trust auth) for the second run. Prints both summaries;
# docs/BENCHMARKS.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE="${1:-40}"
DURATION="${2:-30s}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ballast-target}"
cargo build --release --bin ballast >/dev/null
BIN="$CARGO_TARGET_DIR/release/ballast"
WORK="$(mktemp -d)"
trap 'kill "${UP:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

run() {
  local name="$1"; shift
  echo "== $name: $RATE orders/s for $DURATION"
  env "$@" RUST_LOG=warn BALLAST_ADMIN__PASSWORD=bench-admin-password \
    BALLAST_GATEWAY__RATE_LIMIT__ANONYMOUS__RATE_PER_SECOND=100000 \
    "$BIN" up --data-dir "$WORK/$name" --gateway-addr 127.0.0.1:38080 --admin-addr 127.0.0.1:38081 \
    --sre-addr 127.0.0.1:39300 --base-port 0 >"$WORK/$name.log" 2>&1 &
  UP=$!
  for _ in $(seq 1 120); do grep -q "Press Ctrl-C" "$WORK/$name.log" && break; sleep 0.5; done
  grep -q "Press Ctrl-C" "$WORK/$name.log" || { cat "$WORK/$name.log"; exit 1; }
  "$BIN" load --gateway http://127.0.0.1:38080 --rate "$RATE" --duration "$DURATION" --users 20 \
    --order-share 1.0 --decline-share 0.05 --settle 60s --quiet --record "$WORK/$name.accepted"
  if ! BALLAST_ADMIN__PASSWORD=bench-admin-password "$BIN" verify --admin-addr 127.0.0.1:38081 \
    --accepted "$WORK/$name.accepted" >"$WORK/$name.verify" 2>&1; then
    echo "verify found violations:"; cat "$WORK/$name.verify"
  else
    tail -1 "$WORK/$name.verify"
  fi
  kill -INT "$UP"; wait "$UP" || true
}

run sqlite
DB="ballast_bench_$(date +%s)"
run postgres "BALLAST_STORE__POSTGRES_URL=postgres://postgres@127.0.0.1:5432/${DB}_{service}"
