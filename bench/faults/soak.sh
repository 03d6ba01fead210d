#!/usr/bin/env bash
# The full fault soak of issue 11: runs the fault suite (tests/Tora.Faults.Tests) ROUNDS times with every bounded
# load multiplied by SCALE, collects the figures row each fault test reports, and prints docs/reliability.md's
# table (fault · load sent · accepted · completed · lost · duplicated · 5xx), summed over the rounds.
#
#   bench/faults/soak.sh [--scale N] [--rounds N] [--out DIR]
#
# Defaults: --scale 5 --rounds 3 --out .data/soak. CI runs the same tests at scale 1 (./test.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/common.sh

scale=5; rounds=3; out="$PWD/.data/soak"
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown argument $1 (use --scale N, --rounds N, --out DIR)" >&2; exit 2 ;;
  esac
done
[[ "$scale" =~ ^[1-9][0-9]*$ && "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "--scale and --rounds must be positive integers" >&2; exit 2; }

ensure_debian_packages
PG_PORT="${TORA_SOAK_PG_PORT:-55434}"
PG_DATA="$PWD/.data/pg-soak"
rm -rf "$PG_DATA"
start_private_postgres "$PG_DATA" "$PG_PORT"
trap stop_private_postgres EXIT
export TORA_TEST_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres;Pooling=true"
export TORA_TEST_S3RVER="$(ensure_s3rver "$PWD/.data/node")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet build tests/Tora.Faults.Tests -c Release -nologo -v:q -clp:ErrorsOnly
mkdir -p "$out"
figures="$out/figures.jsonl"
: > "$figures"
export TORA_FAULT_SCALE="$scale" TORA_FAULT_FIGURES="$figures"
failed_rounds=0
started=$(date +%s)
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds (scale $scale)" >&2
  if ! dotnet test tests/Tora.Faults.Tests -c Release --no-build -nologo --logger "console;verbosity=minimal" \
       --logger "trx;LogFileName=round-$round.trx" --results-directory "$out" >"$out/round-$round.log" 2>&1; then
    failed_rounds=$((failed_rounds + 1))
    echo "round $round FAILED: see $out/round-$round.log" >&2
  fi
done
elapsed=$(( $(date +%s) - started ))

echo "fault soak: $rounds rounds at scale $scale in ${elapsed} s on $(nproc) cores ($(uname -m)), $(date -u +%F)"
/usr/bin/env python3 - "$figures" <<'PY'
import json, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = r["fault"]
    if key not in rows:
        rows[key] = dict(runs=0, sent=0, accepted=0, completed=0, lost=0, duplicated=0, server_errors=0)
        order.append(key)
    t = rows[key]
    t["runs"] += 1
    for k in ("sent", "accepted", "completed", "lost", "duplicated", "server_errors"):
        t[k] += r[k]
print("| Fault | Runs | Load sent | Accepted | Completed | Lost | Duplicated | 5xx |")
print("|---|---|---|---|---|---|---|---|")
for key in order:
    t = rows[key]
    print(f"| {key} | {t['runs']} | {t['sent']} | {t['accepted']} | {t['completed']} | {t['lost']} | {t['duplicated']} | {t['server_errors']} |")
PY
echo "$failed_rounds of $rounds rounds failed"
[ "$failed_rounds" = 0 ]
