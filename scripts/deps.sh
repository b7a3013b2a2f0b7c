#!/usr/bin/env bash
# Installs the Debian 12 packages pagoda needs to build and test, only when
# one is missing (a second run costs a dpkg query, not an apt-get).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  nlohmann-json3-dev libpcre2-dev libcli11-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libboost-dev
  openmpi-bin libopenmpi-dev
)
# --ci: sanitizer and fuzzing runs also need clang with its runtimes.
# --tests (and --ci): the browser tests of the chat page drive Debian's chromium; the
# load-balancer test (tests/api/lb.test.mjs) runs Debian's nginx.
for flag in "$@"; do
  case "$flag" in
    --ci) PACKAGES+=(clang libclang-rt-14-dev chromium nginx) ;;
    --tests) PACKAGES+=(chromium nginx) ;;
    *) echo "deps: unknown flag $flag (--ci, --tests)" >&2; exit 2 ;;
  esac
done
# The API tests (tests/api) run on Node with npm. A node from elsewhere (e.g. nodesource's
# nodejs, which bundles npm and conflicts with Debian's npm package) is kept as it is.
command -v node >/dev/null || PACKAGES+=(nodejs)
command -v npm >/dev/null || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
