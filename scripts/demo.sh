#!/usr/bin/env bash
# The main job on a fresh machine: set up a Vulkan driver if none, fetch SmolLM2-135M, build,
# and generate. Usage: scripts/demo.sh ["prompt"] [extra cospec run flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/fetch-models.sh smollm2
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
PROMPT="${1:-The capital of France is}"
shift || true
cargo run --release -q -p cospec-cli -- run \
    --model "${COSPEC_MODELS_DIR:-$HOME/.cache/cospec/models}/SmolLM2-135M-Instruct.Q4_1.gguf" \
    --prompt "$PROMPT" --max-tokens 48 "$@"
