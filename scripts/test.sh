#!/usr/bin/env bash
# Everything the test suite needs, then the tests: a Vulkan driver (lavapipe when there is no
# GPU), the real models (SmolLM2 and the Qwen pair, cached), Chromium and the browser page
# (wasm32 build, wasm-bindgen, wasm-opt), then `cargo test`, browser tests included.
# COSPEC_LARGE_TESTS=1 adds the Qwen GPU tests (about a minute more on two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/fetch-models.sh smollm2 qwen
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""; [[ "$(id -u)" != 0 ]] && SUDO="sudo"
    echo "installing Chromium for the browser tests ..."
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
(cd web && npm ci --no-audit --no-fund)
scripts/web.sh build
export COSPEC_BROWSER_TESTS=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export COSPEC_REQUIRE_MODELS=1
log="$(mktemp)"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (the last binary alone may hold no tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
