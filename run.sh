#!/usr/bin/env bash
# Runs Tora.Server on this machine (see README): installs what is missing (PostgreSQL, ffmpeg), starts a private
# PostgreSQL cluster under .data/, builds, makes the demo model package when no model is configured, creates an
# API key, starts the API and one worker, prints their URLs and the key, and stays in the foreground until
# interrupted; Ctrl+C stops everything it started.
#
# Settings (environment): TORA_PG_PORT (55432), TORA_API_PORT (5080, the next free port when taken),
# TORA_MODEL_PACKAGE (a package from 'tora model build'; default: the demo package under .data/demo-model),
# TORA_TENANT (demo), TORA_DEVICE_INDEX (0).
set -euo pipefail
# A script started in the background (`./run.sh &`) inherits SIGINT as ignored, and bash cannot trap a signal
# ignored on entry: re-exec once with default dispositions so Ctrl+C / kill -INT always stops everything.
if [ -z "${TORA_RUN_SIGNALS_RESET:-}" ] && env --default-signal=INT true 2>/dev/null; then
  export TORA_RUN_SIGNALS_RESET=1
  exec env --default-signal=INT,QUIT bash "$0" "$@"
fi
cd "$(dirname "$0")"
source scripts/common.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

ensure_debian_packages
command -v curl >/dev/null 2>&1 || { as_root apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq curl >/dev/null; }
PG_PORT="${TORA_PG_PORT:-55432}"
start_private_postgres "$PWD/.data/pg" "$PG_PORT"
PIDS=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  stop_private_postgres
  echo "stopped" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ensure_database "$PG_PORT" tora
export ConnectionStrings__Tora="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=tora"
export Tora__Storage__Root="$PWD/.data/blobs"

echo "building (Release)..." >&2
dotnet build Tora.Server.sln -c Release -p:UseSharedCompilation=true -nologo -v:q -clp:ErrorsOnly >&2
BIN=net10.0/linux-x64
TORA=(dotnet "src/Tora.Cli/bin/Release/$BIN/tora.dll")

# The model package: configured, or the demo package built from a tiny random checkpoint.
PACKAGE="${TORA_MODEL_PACKAGE:-}"
if [ -z "$PACKAGE" ]; then
  PACKAGE="$PWD/.data/demo-model"
  if [ ! -f "$PACKAGE/manifest.json" ]; then
    echo "no TORA_MODEL_PACKAGE: building the demo package from a tiny random checkpoint..." >&2
    rm -rf "$PWD/.data/demo-checkpoint" "$PACKAGE"
    "${TORA[@]}" model random --config tiny --out "$PWD/.data/demo-checkpoint" >&2
    "${TORA[@]}" model build --from "$PWD/.data/demo-checkpoint" --out "$PACKAGE" >&2
  fi
fi
if [ ! -f "$PACKAGE/manifest.json" ]; then
  echo "run.sh: model package $PACKAGE has no manifest.json (set TORA_MODEL_PACKAGE to a folder made by 'tora model build')" >&2
  exit 1
fi
# The API offers what the package can make: its model type, frame count and size.
read -r MODEL FRAMES HEIGHT WIDTH < <(/usr/bin/python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
g = m["geometry"]
print(m["model_type"], g["frames"], g["height"], g["width"])' "$PACKAGE/manifest.json")
export Tora__Models__0__Name="$MODEL" Tora__Models__0__NumFrames="$FRAMES" Tora__Models__0__Width="$WIDTH" Tora__Models__0__Height="$HEIGHT"
if [ "$MODEL" = "tora-i2v" ]; then export Tora__Models__0__AcceptsFirstFrame=true; fi

API_PORT="${TORA_API_PORT:-5080}"
while (exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null; do API_PORT=$((API_PORT + 1)); done
API="http://127.0.0.1:$API_PORT"
mkdir -p .data/logs

KEY=$("${TORA[@]}" keys create --tenant "${TORA_TENANT:-demo}" --admin)

dotnet "src/Tora.Api/bin/Release/$BIN/Tora.Api.dll" --urls "$API" >.data/logs/api.log 2>&1 &
PIDS+=($!)
Tora__Worker__Model="$MODEL" Tora__Worker__ModelPackage="$PACKAGE" Tora__Worker__DeviceIndex="${TORA_DEVICE_INDEX:-0}" \
  dotnet "src/Tora.Worker/bin/Release/$BIN/Tora.Worker.dll" >.data/logs/worker.log 2>&1 &
PIDS+=($!)

for _ in $(seq 1 120); do
  if curl -fsS "$API/health/live" >/dev/null 2>&1; then break; fi
  for pid in "${PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "run.sh: a process exited during start-up; see .data/logs/" >&2; tail -20 .data/logs/*.log >&2; exit 1; fi
  done
  sleep 0.5
done
curl -fsS "$API/health/live" >/dev/null || { echo "run.sh: the API did not start; see .data/logs/api.log" >&2; exit 1; }
sleep 1.5 # one worker heartbeat

echo "API: $API"
echo "API key: $KEY"
echo "Swagger UI: $API/swagger"
echo "Web: $API/"
echo "Hangfire dashboard (admin key): $API/hangfire"
echo "Model package: $PACKAGE ($MODEL, $FRAMES frames at ${WIDTH}x${HEIGHT})"
echo "Readiness: $(curl -sS "$API/health/ready")"
echo "Logs: .data/logs/api.log, .data/logs/worker.log. Press Ctrl+C to stop."
wait -n "${PIDS[@]}" || true
echo "run.sh: a process exited; see .data/logs/" >&2
exit 1
