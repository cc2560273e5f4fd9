#!/usr/bin/env bash
# Runs the GPU test binaries under the Khronos Vulkan validation layer with synchronization
# validation on, and ends with one line: errors and warnings it reported, per binary.
#   scripts/vulkan-validation.sh [swiftshader|lavapipe|system] [TEST ...]
# Driver: lavapipe (default; Mesa's ICD), swiftshader (Chromium's ICD), or system (whatever
# the loader finds, e.g. a real GPU). Tests: test binaries of cospec-tests (default: the GPU
# ones). The layer is the one Debian's chromium package ships
# (/usr/lib/chromium/libVkLayer_khronos_validation.so, without a manifest: one is written to a
# temporary folder) or, if installed, Debian's vulkan-validationlayers. Exits 1 when the layer
# reported an error that docs/validation.md does not explain (KNOWN below).
set -euo pipefail
cd "$(dirname "$0")/.."
driver="${1:-lavapipe}"
shift || true
tests=("$@")
[[ ${#tests[@]} -gt 0 ]] || tests=(kernels spec_kernels models speculative sequences lockstep binding_cap sampling)

case "$driver" in
    lavapipe) export VK_ICD_FILENAMES=$(ls /usr/share/vulkan/icd.d/lvp_icd.*.json | head -1) ;;
    swiftshader) export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json ;;
    system) ;;
    *) echo "usage: $0 [lavapipe|swiftshader|system] [TEST ...]" >&2; exit 2 ;;
esac

layer_dir="$(mktemp -d)"
trap 'rm -rf "$layer_dir"' EXIT
if [[ -f /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json ]]; then
    export VK_LAYER_PATH=/usr/share/vulkan/explicit_layer.d
elif [[ -f /usr/lib/chromium/libVkLayer_khronos_validation.so ]]; then
    cat > "$layer_dir/VkLayer_khronos_validation.json" <<EOF
{"file_format_version": "1.2.0", "layer": {"name": "VK_LAYER_KHRONOS_validation", "type": "GLOBAL",
 "library_path": "/usr/lib/chromium/libVkLayer_khronos_validation.so", "api_version": "1.4.321",
 "implementation_version": "1", "description": "Khronos Validation Layer"}}
EOF
    export VK_LAYER_PATH="$layer_dir"
else
    echo "error: no Khronos validation layer: install chromium or vulkan-validationlayers" >&2
    exit 1
fi
export VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation
# Core checks plus synchronization validation (hazards between dispatches and copies);
# errors and warnings go to stdout, where this script counts them.
export VK_LAYER_VALIDATE_SYNC=1
export VK_LAYER_REPORT_FLAGS=error,warn
export VK_LAYER_DEBUG_ACTION=VK_DBG_LAYER_ACTION_LOG_MSG
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

# Message IDs the layer reports that docs/validation.md explains, with why.
KNOWN=(
    # VUID-StandaloneSpirv-None-10684: naga (wgpu's WGSL compiler) decorates arrays in
    # workgroup and function memory with ArrayStride; SPIR-V allows that only in buffer
    # memory. naga's SPIR-V, not our WGSL: gfx-rs/wgpu issue 7696, fix pending upstream.
    "MessageID = 0xb210f7c2"
)

log_dir="${VALIDATION_LOG_DIR:-$(mktemp -d)}"
mkdir -p "$log_dir"
cargo test -p cospec-tests --no-run "${tests[@]/#/--test=}" >/dev/null 2>&1 \
    || cargo test -p cospec-tests --no-run "${tests[@]/#/--test=}"
status=0
summary=""
total_err=0
total_warn=0
for t in "${tests[@]}"; do
    log="$log_dir/$t.log"
    start=$(date +%s)
    set +e
    cargo test -q -p cospec-tests --test "$t" > "$log" 2>&1
    rc=$?
    set -e
    errs=$(grep -c '^Validation Error' "$log" || true)
    warns=$(grep -c '^Validation Warning\|^Validation Performance Warning' "$log" || true)
    unexplained=$(grep '^Validation Error' "$log" | grep -o 'MessageID = 0x[0-9a-f]*' | sort -u | grep -vxF -f <(printf '%s\n' "${KNOWN[@]:-none}") || true)
    [[ $rc -eq 0 ]] || { echo "$t: tests failed (exit $rc), log $log"; status=1; }
    if [[ -n "$unexplained" ]]; then
        echo "$t: unexplained validation errors ($(echo $unexplained)); first ones:"
        grep -A6 '^Validation Error' "$log" | head -40
        status=1
    fi
    total_err=$((total_err + errs))
    total_warn=$((total_warn + warns))
    summary+="$t: $errs errors, $warns warnings, $(( $(date +%s) - start )) s; "
done
echo "$summary"
echo "validation ($driver, sync on): $total_err errors, $total_warn warnings over ${#tests[@]} test binaries; logs in $log_dir"
exit $status
