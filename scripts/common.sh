# Shared by run.sh and test.sh: installs what is missing and manages a private PostgreSQL cluster.
# Source it; it defines functions only.

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ensure_debian_packages [test]: what the service needs (ffmpeg, PostgreSQL); with "test" also what only the
# tests need.
ensure_debian_packages() {
  local missing=()
  command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
  ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
  if [ "${1:-}" = test ]; then
    # deploy/docker-compose.yml is validated by the tests with Debian's docker-compose (no Docker engine needed).
    command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
    # The browser tests drive Debian's Chromium with Playwright (never a downloaded browser).
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    # The CUDA placement test builds stand-in CUDA libraries from the provider's imports (docs/gpu.md).
    command -v gcc >/dev/null 2>&1 || missing+=(gcc)
    command -v nm >/dev/null 2>&1 && command -v objdump >/dev/null 2>&1 || missing+=(binutils)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt)" >&2
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
  fi
}

# start_private_postgres DATA_DIR PORT: initialises (once) and starts a cluster on 127.0.0.1:PORT,
# owned by the postgres user when run as root (postgres refuses to run as root). That user cannot enter a clone
# inside a folder only root may enter (a root home, mode 0700): the cluster then lives under
# /var/lib/postgresql/tora/ (named after DATA_DIR's path), DATA_DIR is a link to it, and a line says so.
# Sets PG_DATA_DIR to where the cluster really is.
start_private_postgres() {
  local data="$1" port="$2"
  PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  local owner; owner="$(id -un)"
  local run=()
  mkdir -p "$(dirname "$data")"
  PG_DATA_DIR="$data"
  if [ "$(id -u)" = 0 ]; then
    owner=postgres
    # From / so that the tools never need the (possibly unreachable) current folder.
    run=(runuser -u postgres -- env -C /)
    if ! runuser -u postgres -- test -x "$(dirname "$data")"; then
      PG_DATA_DIR="$(private_postgres_elsewhere "$data")"
      if [ -d "$data" ] && [ ! -L "$data" ]; then
        rmdir "$data" 2>/dev/null || { echo "start_private_postgres: $data is a folder the postgres user cannot reach; move it away" >&2; return 1; }
      fi
      install -d -o postgres -g postgres -m 755 "$(dirname "$PG_DATA_DIR")"
      ln -sfn "$PG_DATA_DIR" "$data"
      echo "PostgreSQL data: $PG_DATA_DIR (the postgres user cannot enter $(dirname "$data"); $data links there)" >&2
    fi
  fi
  if [ ! -f "$PG_DATA_DIR/PG_VERSION" ]; then
    install -d -o "$owner" -m 700 "$PG_DATA_DIR"
    "${run[@]}" "$PGBIN/initdb" -D "$PG_DATA_DIR" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  fi
  "${run[@]}" "$PGBIN/pg_ctl" -D "$PG_DATA_DIR" -l "$PG_DATA_DIR/server.log" -w -t 60 \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
  PG_STOP_CMD=("${run[@]}" "$PGBIN/pg_ctl" -D "$PG_DATA_DIR" stop -m fast)
}

# private_postgres_elsewhere DATA_DIR: the folder under /var/lib/postgresql/tora/ that holds DATA_DIR's cluster
# when the postgres user cannot reach DATA_DIR (one per clone and cluster name).
private_postgres_elsewhere() {
  local abs; abs="$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")"
  echo "/var/lib/postgresql/tora/$(basename "$1")-$(printf %s "$abs" | sha256sum | cut -c1-12)"
}

stop_private_postgres() {
  if [ -n "${PG_STOP_CMD+x}" ]; then "${PG_STOP_CMD[@]}" >/dev/null 2>&1 || true; fi
}

# remove_private_postgres DATA_DIR: deletes a (stopped) cluster, wherever start_private_postgres put it.
remove_private_postgres() {
  if [ -L "$1" ]; then rm -rf "$(readlink "$1")"; fi
  rm -rf "$1"
}

# ensure_database PORT NAME
ensure_database() {
  psql -h 127.0.0.1 -p "$1" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$2'" | grep -q 1 \
    || psql -h 127.0.0.1 -p "$1" -U postgres -qc "CREATE DATABASE \"$2\"" >/dev/null
}

# ensure_s3rver DIR: installs the s3rver S3 emulator (npm, pinned) under DIR once; later runs reuse it and a
# reinstall prefers npm's local cache, so it also works offline once cached. Prints the binary's path.
ensure_s3rver() {
  local dir="$1" bin="$1/node_modules/.bin/s3rver"
  if [ ! -x "$bin" ]; then
    command -v npm >/dev/null 2>&1 || { echo "npm is needed to install s3rver for the S3 tests" >&2; return 1; }
    mkdir -p "$dir"
    (cd "$dir" && npm install --no-audit --no-fund --prefer-offline --silent s3rver@3.7.1 >/dev/null)
  fi
  echo "$bin"
}

# The npm tools of the contract checks (tests/Tora.Client.Tests), pinned: Stoplight Prism (validating proxy),
# openapi-typescript and TypeScript (the TypeScript check), Redocly CLI (lint), js-yaml (clients/csharp/generate.sh).
CONTRACT_NPM_TOOLS=(@stoplight/prism-cli@5.16.0 openapi-typescript@7.13.0 typescript@5.9.3 @redocly/cli@2.77.0 js-yaml@4.1.0)

# ensure_contract_tools DIR: installs CONTRACT_NPM_TOOLS under DIR once (exact versions; a reinstall prefers npm's
# local cache, so it also works offline once cached). Prints DIR/node_modules/.bin.
ensure_contract_tools() {
  local dir="$1" bin="$1/node_modules/.bin"
  local stamp="$dir/.contract-tools" want="${CONTRACT_NPM_TOOLS[*]}"
  if [ ! -x "$bin/prism" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    command -v npm >/dev/null 2>&1 || { echo "npm is needed to install the contract check tools" >&2; return 1; }
    mkdir -p "$dir"
    (cd "$dir" && npm install --no-audit --no-fund --prefer-offline --save-exact --silent "${CONTRACT_NPM_TOOLS[@]}" >/dev/null)
    echo "$want" > "$stamp"
  fi
  echo "$bin"
}
