#!/usr/bin/env bash
# Everything the test suite needs, then the tests: a Vulkan driver (lavapipe when there is no
# GPU), the real models (SmolLM2 and the Qwen pair, cached), and `cargo test`.
# COSPEC_LARGE_TESTS=1 adds the Qwen GPU tests (about a minute more on two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/fetch-models.sh smollm2 qwen
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export COSPEC_REQUIRE_MODELS=1
cargo test --workspace
