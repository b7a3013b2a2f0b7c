#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer + UndefinedBehaviorSanitizer in
# build-asan/ and runs them. Any sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=build-asan CMAKE_ARGS="-DCMAKE_BUILD_TYPE=Debug -DPAGODA_SANITIZE=ON -DPAGODA_BENCH=OFF" \
  ./scripts/build.sh
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-asan
ctest --output-on-failure --timeout 900 -j "${JOBS:-$(nproc)}" ${CTEST_ARGS:-}
