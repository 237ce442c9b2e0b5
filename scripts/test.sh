#!/usr/bin/env bash
# The whole test suite, as the README gives it: installs or starts what it needs (PostgreSQL,
# Redis, Prometheus), checks formatting and lints, then runs every test against SQLite and
# again against PostgreSQL. A required server that cannot be started is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ballast-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export DEBIAN_FRONTEND=noninteractive
PG_URL="${BALLAST_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS_URL="${BALLAST_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export BALLAST_TEST_POSTGRES_URL="$PG_URL" BALLAST_TEST_REDIS_URL="$REDIS_URL"

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq || true; APT_UPDATED=1; fi
  $SUDO apt-get install -y -qq "$@" >/dev/null
}

log "system packages"
missing=()
for pkg in pkg-config libssl-dev zlib1g-dev postgresql redis-server prometheus prometheus-alertmanager; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt_install "${missing[@]}" || die "could not install ${missing[*]}"
fi
command -v promtool >/dev/null || die "promtool is missing after installing prometheus"
command -v amtool >/dev/null || die "amtool is missing after installing prometheus-alertmanager"

log "PostgreSQL"
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_ready; then
  if ls /etc/postgresql/*/main >/dev/null 2>&1; then
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
fi
if ! pg_ready; then
  # No cluster to start: a private throw-away one on 5432 with trust auth.
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  dir="${TMPDIR:-/tmp}/ballast-pg"
  rm -rf "$dir" && mkdir -p "$dir" && chown postgres "$dir"
  su postgres -c "$bin/initdb -D $dir -A trust -U postgres" >/dev/null
  su postgres -c "$bin/pg_ctl -D $dir -w -l $dir/log -o '-p 5432 -k $dir -c listen_addresses=127.0.0.1' start" >/dev/null
fi
for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
pg_ready || die "PostgreSQL is not answering on 127.0.0.1:5432"
psql "$PG_URL" -qAtc "select 1" >/dev/null || die "cannot log in to PostgreSQL as $PG_URL"
# Databases left by earlier runs' tests.
psql "$PG_URL" -qAtc "select datname from pg_database where datname like 'ballast_test_%'" |
  while read -r db; do psql "$PG_URL" -qc "drop database if exists \"$db\"" >/dev/null || true; done

log "Redis"
redis_ready() { redis-cli -u "$REDIS_URL" ping 2>/dev/null | grep -q PONG; }
if ! redis_ready; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 20); do redis_ready && break; sleep 0.5; done
fi
redis_ready || die "Redis is not answering on $REDIS_URL"

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
  run_tests() { cargo nextest run --no-fail-fast --failure-output final "$@"; }
else
  run_tests() { cargo test --no-fail-fast "$@"; }
fi

log "tests against SQLite (every crate)"
BALLAST_TEST_STORE=sqlite run_tests --workspace

log "tests against PostgreSQL (the crates with a store)"
BALLAST_TEST_STORE=postgres run_tests --workspace --exclude ballast-metrics --exclude ballast-gateway --exclude ballast-slo --exclude ballast-kafka

log "all tests passed"
