#!/usr/bin/env bash
# Cases at size: a demo township holding 100,000 more cases (bulk-inserted by the `cases`
# bench program), its workbench case list loaded with wrk at 64 connections, signed in as
# the leader (who sees the whole agency). Then the transition benchmark (cases/s with their
# ledger entries) and the 行政处罚决定书 render benchmark.
# Usage: bench/cases.sh [seconds-per-run]
# Needs: a release build (cargo build --release -p zhifa), wrk, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
BIN=${CARGO_TARGET_DIR:-target}/release/zhifa
PORT=${ZHIFA_BENCH_PORT:-18557}
BASE="http://127.0.0.1:$PORT"
DATA=$(mktemp -d); DATA2=$(mktemp -d); JAR=$(mktemp)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA" "$DATA2" "$JAR"' EXIT
[ -x "$BIN" ] || { echo "build first: cargo build --release -p zhifa" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }

cargo bench -q -p zhifa --bench cases -- --list "$DATA" 100000 2>/dev/null
"$BIN" serve --data "$DATA" --addr "127.0.0.1:$PORT" >/dev/null 2>&1 & PID=$!
for _ in $(seq 1 2000); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.005; done
token=$(curl -s -c "$JAR" -b "$JAR" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
curl -s -c "$JAR" -b "$JAR" -o /dev/null -d "username=leader&password=Zhifa%402026&csrf_token=$token" "$BASE/login"
session=$(awk '$6 == "zhifa_session" { print $7 }' "$JAR")
[ -n "$session" ] || { echo "login failed" >&2; exit 1; }

run() { # name path [seconds]
  local out rps p50 p99 non2xx
  out=$(wrk -t2 -c64 -d"${3:-$DURATION}s" --latency -H "Cookie: zhifa_session=$session" "$BASE$2")
  rps=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
  p50=$(echo "$out" | awk '$1 == "50%" { print $2 }')
  p99=$(echo "$out" | awk '$1 == "99%" { print $2 }')
  non2xx=$(echo "$out" | awk '/Non-2xx/ { print $NF }')
  printf '| %-40s | %10s | %8s | %8s | %s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB, $(uname -r); date: $(date -u +%F)"
echo "| target (wrk -t2 -c64 -d${DURATION}s, 100,009 cases) | req/s | p50 | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|"
# The first seconds after a start read the database from disk into the page cache and fill
# the cache of counts (64 requests at once all missing it): measured apart, then warm.
run "case list, page 1, first 2 s after start" "/app/cases" 2
run "case list, page 1 (all)" "/app/cases"
run "case list, page 1,000" "/app/cases?page=1000"
run "case list, overdue" "/app/cases?status=overdue"
run "case list, search q=压测案件 77777" "/app/cases?q=%E5%8E%8B%E6%B5%8B%E6%A1%88%E4%BB%B6%2077777"
run "workbench home (case watch)" "/app"
kill $PID; wait $PID 2>/dev/null || true

echo
cargo bench -q -p zhifa --bench cases -- "$DATA2" 2000 2>/dev/null
echo
cargo bench -q -p zhifa-docs --bench render -- 50 2>/dev/null
