#!/usr/bin/env bash
# HTTP load benchmark: portal home and workbench home against a static file served by
# the same binary (the ceiling), with wrk at 64 connections; plus start-up time on an
# existing data dir and idle memory. Usage: bench/http.sh [seconds-per-run]
# Needs: a release build (cargo build --release -p zhifa), wrk, curl, sqlite3.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-15}
BIN=target/release/zhifa
PORT=${ZHIFA_BENCH_PORT:-18555}
BASE="http://127.0.0.1:$PORT"
DATA=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA" "$JAR"' EXIT
JAR=$(mktemp)

[ -x "$BIN" ] || { echo "build first: cargo build --release -p zhifa" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is required (apt-get install sqlite3)" >&2; exit 1; }

wait_ready() {
  for _ in $(seq 1 2000); do
    curl -fs "$BASE/healthz" >/dev/null 2>&1 && return 0
    sleep 0.005
  done
  echo "server did not start" >&2; exit 1
}

# First start creates the demo township; stop it, then time a start on the existing dir.
"$BIN" demo --addr "127.0.0.1:$PORT" --data "$DATA" >/dev/null 2>&1 & PID=$!
wait_ready; kill -TERM $PID; wait $PID || true

start_ns=$(date +%s%N)
"$BIN" demo --addr "127.0.0.1:$PORT" --data "$DATA" >/dev/null 2>&1 & PID=$!
wait_ready
ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
sleep 1
idle_rss_kb=$(ps -o rss= -p $PID | tr -d ' ')

# Log in as a demo user for the workbench.
token=$(curl -s -c "$JAR" -b "$JAR" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
curl -s -c "$JAR" -b "$JAR" -o /dev/null -d "username=officer&password=Zhifa%402026&csrf_token=$token" "$BASE/login"
session=$(awk '$6 == "zhifa_session" { print $7 }' "$JAR")
[ -n "$session" ] || { echo "login failed" >&2; exit 1; }

run() { # name path [cookie]
  local extra=()
  [ -n "${3:-}" ] && extra=(-H "Cookie: zhifa_session=$3")
  local out
  out=$(wrk -t2 -c64 -d"${DURATION}s" --latency "${extra[@]}" "$BASE$2")
  local rps p50 p99 non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
  p50=$(echo "$out" | awk '$1 == "50%" { print $2 }')
  p99=$(echo "$out" | awk '$1 == "99%" { print $2 }')
  non2xx=$(echo "$out" | awk '/Non-2xx/ { print $NF }')
  printf '| %-28s | %10s | %8s | %8s | %s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB, $(uname -r); date: $(date -u +%F)"
echo "start-up on existing data dir: ${ready_ms} ms; idle RSS: $((idle_rss_kb / 1024)) MB"
echo
echo "| target (wrk -t2 -c64 -d${DURATION}s) | req/s | p50 | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|"
run "static /static/zhifa.css (ceiling)" /static/zhifa.css
run "portal home /" /
run "workbench home /app" /app "$session"
# 亮证: the page an officer's QR code opens (a valid credential, judged at each request).
qr=$(sqlite3 "$DATA/zhifa.db" "SELECT qr_token FROM credentials WHERE status = 'valid' ORDER BY id LIMIT 1")
run "credential check /v/{token}" "/v/$qr"
run "officers /agencies/zhutang/officers" /agencies/zhutang/officers
echo
echo "RSS after load: $(( $(ps -o rss= -p $PID | tr -d ' ') / 1024 )) MB"

# A burst of 200 concurrent failed logins (unknown names): Argon2 takes 19 MiB per hash,
# so memory must stay bounded by the hashing limit, not by the burst.
BJAR=$(mktemp)
btoken=$(curl -s -c "$BJAR" -b "$BJAR" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
burst_start=$(date +%s%N)
seq 1 200 | xargs -P 200 -I{} curl -s -o /dev/null -b "$BJAR" -d "username=nobody{}&password=Wrong%402026&csrf_token=$btoken" "$BASE/login"
burst_ms=$(( ($(date +%s%N) - burst_start) / 1000000 ))
rm -f "$BJAR"
echo "200 concurrent failed logins: ${burst_ms} ms; RSS after: $(( $(ps -o rss= -p $PID | tr -d ' ') / 1024 )) MB"
