#!/usr/bin/env bash
# Configures (once) and builds pagoda in build/ (Release with debug info).
# Extra arguments are ninja targets.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${CMAKE_ARGS:-}
fi
# Two cores are the norm here; ninja's default would oversubscribe memory-heavy TUs less than -j1 wastes time.
cmake --build "$BUILD_DIR" --parallel "${JOBS:-$(nproc)}" ${1:+--target "$@"}
