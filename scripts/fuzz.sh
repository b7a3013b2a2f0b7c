#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and runs each
# for SECONDS (default 60). Targets that can write a seed corpus
# (`--make-corpus DIR`) start from it. A crash fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found (./scripts/deps.sh --ci installs it)"; exit 1
fi
if [[ ! -f build-fuzz/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPAGODA_FUZZ=ON -DPAGODA_SANITIZE=ON -DPAGODA_TESTS=OFF -DPAGODA_BENCH=OFF
fi
targets=$(cd fuzz && ls *.cpp | sed 's/^\(.*\)\.cpp$/fuzz_\1/')
cmake --build build-fuzz --parallel "${JOBS:-$(nproc)}" --target $targets
for t in $targets; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus"
  if grep -q -- '--make-corpus' "fuzz/${t#fuzz_}.cpp"; then
    "build-fuzz/fuzz/$t" --make-corpus "$corpus"
  fi
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s"
  "build-fuzz/fuzz/$t" -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix=build-fuzz/ "$corpus"
done
