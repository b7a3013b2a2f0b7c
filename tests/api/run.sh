#!/usr/bin/env bash
# The API tests (tests/api): installs the pinned npm packages when node_modules is missing or
# was installed from another package-lock.json, then runs Node's test runner on every
# tests/api/*.test.mjs against PAGODA_BINARY (argument 1, else $PAGODA_BINARY, else build/pagoda).
set -euo pipefail
api_dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$api_dir/../.." && pwd)
binary=${1:-${PAGODA_BINARY:-$root/build/pagoda}}
[[ $binary == /* ]] || binary=$PWD/$binary
export PAGODA_BINARY=$binary
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "api tests: node and npm are needed (./scripts/deps.sh installs them)" >&2
  exit 1
fi

stamp=$api_dir/node_modules/.pagoda-lock-sha256
want=$(sha256sum "$api_dir/package-lock.json" | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "api tests: npm ci in tests/api"
  (cd "$api_dir" && npm ci --no-audit --no-fund)
  echo "$want" >"$stamp"
fi

# One test file at a time (each starts its own server; the load test wants the cores) where
# this node knows the flag (20.10+; Debian 12's node 18 runs cores-1 files at once), TAP output
# so the run ends with the runner's summary (# pass N, # fail 0).
flags=(--test --test-reporter=tap)
node --help | grep -q -- --test-concurrency && flags+=(--test-concurrency=1)
cd "$root"
echo "api tests: node $(node --version), $PAGODA_BINARY"
exec node "${flags[@]}" tests/api/
