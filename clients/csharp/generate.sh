#!/usr/bin/env bash
# Regenerates clients/csharp/Generated from openapi.yaml with Kiota (the version pinned in dotnet-tools.json).
# The generated code is committed; run this after every change to openapi.yaml (a test regenerates it into a
# temporary folder, the optional argument, and compares).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-clients/csharp/Generated}"
source scripts/common.sh
bin="$(ensure_contract_tools "$PWD/.data/node")"
input="$(mktemp --suffix .json)"
trap 'rm -f "$input"' EXIT
node clients/csharp/kiota-input.mjs "$bin/../" openapi.yaml "$input"
dotnet tool restore >/dev/null
KIOTA_OFFLINE_ENABLED=true KIOTA_TUTORIAL_ENABLED=false dotnet kiota generate --language CSharp \
  --openapi "$input" --output "$out" --class-name ToraApiClient --namespace-name Tora.Client \
  --exclude-backward-compatible --clean-output --log-level Warning
# Kiota records the absolute path of its input in the lock file; keep the committed one stable.
sed -i 's|"descriptionLocation": ".*"|"descriptionLocation": "../../../openapi.yaml"|' "$out/kiota-lock.json"
