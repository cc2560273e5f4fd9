#!/usr/bin/env bash
# Everything the test suite needs, then the tests: a Vulkan driver (lavapipe when there is no
# GPU), the real models (SmolLM2, the Qwen pair and Gemma 3 270M, cached), Chromium and the
# browser page (wasm32 build, wasm-bindgen, wasm-opt), the openai Python client (the server's
# tests), then `cargo test`, browser tests included, and the GPU test binaries a second time
# on SwiftShader's Vulkan driver.
# COSPEC_LARGE_TESTS=1 adds the Qwen GPU tests (about a minute more on two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/fetch-models.sh smollm2 qwen gemma3
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""; [[ "$(id -u)" != 0 ]] && SUDO="sudo"
    echo "installing Chromium for the browser tests ..."
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# The official openai Python client, which tests/serve.rs drives against `cospec serve`, in a
# virtual environment of its own.
OPENAI_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/cospec/openai-venv"
if ! "$OPENAI_VENV/bin/python" -c "import openai" 2>/dev/null; then
    echo "installing the openai Python package into $OPENAI_VENV ..."
    python3 -m venv "$OPENAI_VENV"
    "$OPENAI_VENV/bin/pip" install -q openai
fi
export COSPEC_OPENAI_PYTHON="$OPENAI_VENV/bin/python"
(cd web && npm ci --no-audit --no-fund)
scripts/web.sh build
export COSPEC_BROWSER_TESTS=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export COSPEC_REQUIRE_MODELS=1
log="$(mktemp)"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The GPU test binaries again on a second Vulkan driver, SwiftShader's (Chromium ships it):
# its subgroups, limits, allocation and out-of-bounds behaviour differ from lavapipe's, and
# what lavapipe tolerates shows there (docs/validation.md). These binaries check every kernel
# against the CPU, whole models, sequences side by side, sampling and refusals; speculative
# and lockstep compose the same kernels end to end and would add five minutes.
SWIFTSHADER_ICD=/usr/lib/chromium/vk_swiftshader_icd.json
SWIFTSHADER_TESTS=(kernels spec_kernels models sequences sampling bad_input binding_cap)
if [[ -f "$SWIFTSHADER_ICD" ]]; then
    echo "=== the GPU tests on SwiftShader's Vulkan driver: ${SWIFTSHADER_TESTS[*]}"
    VK_ICD_FILENAMES="$SWIFTSHADER_ICD" COSPEC_EXPECT_ADAPTER=swiftshader \
        cargo test -p cospec-tests --no-fail-fast "${SWIFTSHADER_TESTS[@]/#/--test=}" 2>&1 | tee -a "$log"
    [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
else
    echo "error: $SWIFTSHADER_ICD missing: the chromium package ships it" >&2
    status=1
fi
set -e
# One closing line over every test binary (the last binary alone may hold no tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
