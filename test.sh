#!/usr/bin/env bash
# Runs every test: installs ffmpeg and PostgreSQL when missing, starts a private PostgreSQL cluster on
# loopback for the integration tests, builds the solution and prints "N passed, N failed" last.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/common.sh

ensure_debian_packages test
PG_PORT="${TORA_TEST_PG_PORT:-55433}"
PG_DATA="$PWD/.data/pg-test"
remove_private_postgres "$PG_DATA"
start_private_postgres "$PG_DATA" "$PG_PORT"
trap stop_private_postgres EXIT
export TORA_TEST_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres;Pooling=true"
export TORA_TEST_S3RVER="$(ensure_s3rver "$PWD/.data/node")"
export TORA_TEST_NODE_BIN="$(ensure_contract_tools "$PWD/.data/node")"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Tora.Server.sln -c Release -p:UseSharedCompilation=true -nologo -v:q -clp:ErrorsOnly

results="$PWD/.test-results"
rm -rf "$results"
set +e
dotnet test Tora.Server.sln -c Release --no-build -nologo \
  --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results"
set -e

passed=0; failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0}))
done
projects=$(grep -l '<IsTestProject>true' tests/*/*.csproj | wc -l)
trxs=$(ls "$results"/*.trx 2>/dev/null | wc -l)
if [ "$trxs" -lt "$projects" ]; then
  echo "only $trxs of $projects test projects reported results" >&2
  failed=$((failed + projects - trxs))
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
