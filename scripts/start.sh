#!/usr/bin/env bash
# One command for a newcomer: installs what is missing, builds, and starts the
# OpenAI-compatible server `pagoda serve` on 127.0.0.1:8000 (PAGODA_PORT to
# change it). Without -m / PAGODA_MODEL it serves the demo model, written on
# first use (random weights: its text is noise). Extra arguments go to `serve`.
#   ./scripts/start.sh                              # demo model
#   ./scripts/start.sh -m model.gguf --api-key s3cret --max-model-len 8192
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh pagoda

args=("$@")
have_model=0
for a in "${args[@]}"; do [[ "$a" == "-m" || "$a" == "--model" || "$a" == *.gguf ]] && have_model=1; done
if [[ $have_model -eq 0 && -n "${PAGODA_MODEL:-}" ]]; then
  args=(-m "$PAGODA_MODEL" "${args[@]}")
fi
exec ./build/pagoda serve "${args[@]}"
