#!/usr/bin/env bash
# One command for every test: installs what is missing, builds everything
# (Release with debug info), runs the whole suite with CTest, then the API tests
# (tests/api: the official openai npm client against `pagoda serve`, Node's test
# runner). Tests that need ../shared/fixtures skip visibly when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh --tests
./scripts/build.sh
(cd build && ctest --output-on-failure --timeout 600 -j "${JOBS:-$(nproc)}")
tests/api/run.sh build/pagoda
