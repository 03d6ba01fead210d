#!/usr/bin/env bash
# Runs Tora.Server on this machine (see README). Installs what is missing, starts a private PostgreSQL
# cluster under .data/, builds, and stays in the foreground until interrupted.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/common.sh
ensure_debian_packages
PG_PORT="${TORA_PG_PORT:-55432}"
start_private_postgres "$PWD/.data/pg" "$PG_PORT"
trap stop_private_postgres EXIT
ensure_database "$PG_PORT" tora
dotnet build Tora.Server.sln -c Release -nologo -v:q -clp:ErrorsOnly
echo "PostgreSQL: Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=tora"
echo "tora CLI: dotnet src/Tora.Cli/bin/Release/net10.0/linux-x64/tora.dll --help"
echo "The HTTP API (src/Tora.Api) is not in this build yet; press Ctrl+C to stop PostgreSQL."
while true; do sleep 3600; done
