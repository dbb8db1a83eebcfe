#!/usr/bin/env bash
# The 执法事项清单 at size: imports a 5,000-row XLSX into the demo township (timed, SQLite;
# PostgreSQL too with ZHIFA_BENCH_DATABASE_URL), then loads the portal's list pages with
# wrk at 64 connections. Usage: bench/lists.sh [seconds-per-run]
# Needs: a release build (cargo build --release -p zhifa), wrk, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
BIN=target/release/zhifa
PORT=${ZHIFA_BENCH_PORT:-18556}
BASE="http://127.0.0.1:$PORT"
DATA=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
[ -x "$BIN" ] || { echo "build first: cargo build --release -p zhifa" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }

cargo bench -q -p zhifa --bench lists -- "$DATA" 5000 2>/dev/null
"$BIN" serve --data "$DATA" --addr "127.0.0.1:$PORT" >/dev/null 2>&1 & PID=$!
for _ in $(seq 1 2000); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.005; done

run() { # name path
  local out rps p50 p99 non2xx
  out=$(wrk -t2 -c64 -d"${DURATION}s" --latency "$BASE$2")
  rps=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
  p50=$(echo "$out" | awk '$1 == "50%" { print $2 }')
  p99=$(echo "$out" | awk '$1 == "99%" { print $2 }')
  non2xx=$(echo "$out" | awk '/Non-2xx/ { print $NF }')
  printf '| %-44s | %10s | %8s | %8s | %s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB, $(uname -r); date: $(date -u +%F)"
echo "| target (wrk -t2 -c64 -d${DURATION}s, 5,042 items) | req/s | p50 | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|"
run "list, page 1 (50 items)" "/agencies/zhutang/items"
run "list, page 80" "/agencies/zhutang/items?page=80"
run "search q=焚烧" "/agencies/zhutang/items?q=%E7%84%9A%E7%83%A7"
run "filter category=coercion" "/agencies/zhutang/items?category=coercion"
run "item page" "/agencies/zhutang/items/BENCH-04000"
