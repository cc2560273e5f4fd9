#!/usr/bin/env bash
# Everything the test suite needs, then the tests: a Vulkan driver (lavapipe when there is no
# GPU), the real models (SmolLM2 and the Qwen pair, cached), `cargo test`, and a wasm32 build
# of the engine.
# COSPEC_LARGE_TESTS=1 adds the Qwen GPU tests (about a minute more on two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/fetch-models.sh smollm2 qwen
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export COSPEC_REQUIRE_MODELS=1
log="$(mktemp)"
set +e
cargo test --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (the last binary alone may hold no tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
# The engine must keep compiling for the browser (wasm32): platform differences stay in
# engine/src/platform.rs and target-specific dependencies.
if [ "$status" -eq 0 ]; then
    rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
    if ! cargo build --release --target wasm32-unknown-unknown -p cospec; then
        echo "the engine no longer builds for wasm32-unknown-unknown"
        status=1
    fi
fi
exit "$status"
