#!/usr/bin/env bash
# One command for a newcomer: installs what is missing, builds, and runs pagoda's
# main job. Until the server lands that is `pagoda run` on a model: the one given
# with -m / PAGODA_MODEL, else the demo model (random weights: its text is noise).
#   ./scripts/start.sh                    # demo model, default prompt
#   ./scripts/start.sh -m model.gguf -p "Once upon a time" -n 64
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh pagoda

args=("$@")
have_model=0
for a in "${args[@]}"; do [[ "$a" == "-m" || "$a" == "--model" ]] && have_model=1; done
if [[ $have_model -eq 0 ]]; then
  model=${PAGODA_MODEL:-models/demo.gguf}
  if [[ ! -f "$model" ]]; then
    mkdir -p "$(dirname "$model")"
    ./build/pagoda make-model -o "$model"
  fi
  args=(-m "$model" "${args[@]}")
fi
have_prompt=0
for a in "${args[@]}"; do [[ "$a" == "-p" || "$a" == "--prompt" || "$a" == "--chat" ]] && have_prompt=1; done
[[ $have_prompt -eq 0 ]] && args+=(-p "Once upon a time" -n 64)
exec ./build/pagoda run "${args[@]}"
