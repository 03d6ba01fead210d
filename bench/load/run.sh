#!/usr/bin/env bash
# Load test of the accept path (bench/README.md): POST /v1/generations against the bare one-INSERT endpoint,
# alternating rounds on one running API, then the enqueue → job-start latency with one idle worker.
# Usage: bench/load/run.sh [rounds=3] [seconds=20]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/common.sh
ROUNDS="${1:-3}"; SECONDS_PER_RUN="${2:-20}"
PG_PORT="${TORA_BENCH_PG_PORT:-55460}"; API_PORT="${TORA_BENCH_API_PORT:-55461}"
command -v wrk >/dev/null || { as_root apt-get install -y -qq wrk >/dev/null; }
ensure_debian_packages
remove_private_postgres "$PWD/.data/pg-bench"
start_private_postgres "$PWD/.data/pg-bench" "$PG_PORT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; stop_private_postgres; }
trap cleanup EXIT
ensure_database "$PG_PORT" tora
export ConnectionStrings__Tora="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=tora"
export Tora__Storage__Root="$PWD/.data/bench-blobs" Tora__Bench__InsertEndpoint=true Logging__LogLevel__Default=Warning
# The bench tenant is on a plan without a rate limit or queued cap (issue 8 limits): this measures the accept path.
export Tora__Limits__Tenants__bench__RequestsPerMinute=0 Tora__Limits__Tenants__bench__MaxQueued=0
dotnet build Tora.Server.sln -c Release -p:UseSharedCompilation=true -nologo -v:q -clp:ErrorsOnly
BIN=net10.0/linux-x64
KEY=$(dotnet src/Tora.Cli/bin/Release/$BIN/tora.dll keys create --tenant bench)
URL="http://127.0.0.1:$API_PORT"
dotnet src/Tora.Api/bin/Release/$BIN/Tora.Api.dll --urls "$URL" >/tmp/tora-bench-api.log 2>&1 &
PIDS+=($!)
until curl -fsS "$URL/health/live" >/dev/null 2>&1; do sleep 0.3; done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "warm-up 10 s each"
TORA_KEY="$KEY" wrk -t2 -c32 -d10s -s bench/load/post.lua "$URL/v1/generations" >/dev/null
TORA_KEY="" wrk -t2 -c32 -d10s -s bench/load/post.lua "$URL/bench/insert" >/dev/null
for r in $(seq 1 "$ROUNDS"); do
  echo -n "round $r generations: "; TORA_KEY="$KEY" wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency -s bench/load/post.lua "$URL/v1/generations" | grep RESULT
  echo -n "round $r insert:      "; TORA_KEY="" wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency -s bench/load/post.lua "$URL/bench/insert" | grep RESULT
done

# Enqueue → start: drop the load test's backlog (outbox rows and queued Hangfire jobs), then start one idle worker
# (its model package is absent, so each job is claimed, timed and failed at once: the claim sets started_at).
echo -n "backlog left by the load rounds: "
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d tora -tAc "SELECT count(*) FILTER (WHERE dispatched_at IS NULL) || ' undispatched, ' || count(*) || ' accepted' FROM generations WHERE tenant = 'bench'"
for _ in 1 2; do
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d tora -qc "UPDATE generations SET status = 'cancelled', dispatched_at = coalesce(dispatched_at, now()) WHERE status = 'queued'; DELETE FROM hangfire.jobqueue" >/dev/null
  sleep 1
done
# Cancelling a backlog of 100,000+ rows at once leaves as many dead entries in the queue indexes; until autovacuum
# reaches them every dispatcher pass steps over them (the first starts then wait about 0.6 s). Measure the steady state.
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d tora -qc "VACUUM ANALYZE generations" >/dev/null
Tora__Worker__Model=tora-t2v Tora__Worker__Name=bench-worker dotnet src/Tora.Worker/bin/Release/$BIN/Tora.Worker.dll >/tmp/tora-bench-worker.log 2>&1 &
PIDS+=($!)
sleep 5
for i in $(seq 1 100); do
  curl -fsS -o /dev/null -X POST "$URL/v1/generations" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "{\"prompt\":\"latency $i\"}"
  sleep 0.3
done
sleep 2
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d tora -tAc "
  SELECT 'enqueue->start ms: n=' || count(*) || ' median=' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1)
      || ' p90=' || round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 1) || ' max=' || round(max(ms)::numeric, 1)
  FROM (SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms FROM generations
        WHERE input->>'prompt' LIKE 'latency %' AND started_at IS NOT NULL) t"
