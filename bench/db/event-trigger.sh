#!/bin/bash
# Per-call time of the generations_changed trigger on a progress update (the "Trigger generations_changed: time="
# line of EXPLAIN ANALYZE), with the migrations up to 0005 (SSE and webhook payloads rendered in SQL) against all of
# them (0006: the row's state recorded, rendered in C#). 300 updates each, interleaved in rounds of 50.
# Usage: bench/db/event-trigger.sh [port] (a PostgreSQL on 127.0.0.1 that user postgres may create databases on).
set -euo pipefail
PORT="${1:-55522}"
M="$(cd "$(dirname "$0")/../../src/Tora.Core/Database/Migrations" && pwd)"
OUT="$(mktemp -d)"
P="psql -h 127.0.0.1 -p $PORT -U postgres -q -v ON_ERROR_STOP=1"
setup() { # database, last migration
  $P -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" 2>/dev/null
  for f in $(ls "$M"/*.sql | sort); do n=$(basename "$f" | cut -c1-4); [ $((10#$n)) -le "$2" ] && $P -d "$1" -f "$f"; done
  $P -d "$1" -c "INSERT INTO generations (id, tenant, model, queue, status, input, created_at, total_steps, started_at) VALUES
    (gen_random_uuid(), 't', 'x', 'gen-x', 'running', '{\"model\":\"x\",\"prompt\":\"p\",\"metadata\":{\"order\":\"A-17\"}}', now(), 1000000, now() - interval '10 s')"
}
measure() {
  for _ in $(seq 50); do echo "EXPLAIN (ANALYZE, COSTS OFF) UPDATE generations SET step = step + 1, phase = 'denoise';"; done \
    | $P -d "$1" -tA | grep -oE "Trigger generations_changed: time=[0-9.]+" | cut -d= -f2 >> "$OUT/$1"
}
setup tora_trigger_0005 5
setup tora_trigger_0006 6
for _ in 1 2 3 4 5 6; do measure tora_trigger_0005; measure tora_trigger_0006; done
for d in tora_trigger_0005 tora_trigger_0006; do
  echo "$d: n=$(wc -l < "$OUT/$d") median $(sort -n "$OUT/$d" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}') ms"
done
$P -c "DROP DATABASE tora_trigger_0005" -c "DROP DATABASE tora_trigger_0006"
rm -rf "$OUT"
