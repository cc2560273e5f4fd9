#!/usr/bin/env bash
# Takes the Qwen pair (and what an eval needs) to a lent GPU machine, which has no network and
# receives at most 64 MiB per call (../.library/device/README.md):
#   here:                 scripts/device-transfer.sh pack
#       writes .xfer/ (git-ignored through .git/info/exclude): pieces 00, 01, ... of at most
#       60 MiB, a manifest with each file's size and SHA-256, the release `cospec` binary and
#       the problems file; prints the pieces.
#   one call per piece:   run(command="true", carry=[".xfer/NN"]), back to back (a machine
#       keeps what earlier calls carried only while it stays warm: 30 s after each call).
#   then, on the device:  scripts/device-transfer.sh unpack
#       joins the pieces into $COSPEC_MODELS_DIR, checks sizes and SHA-256, and stops on any
#       difference; unpacks the Vulkan loader if the machine lacks one; the binary and problems
#       are at .xfer/cospec and .xfer/problems.jsonl.
#   and run:              scripts/device-transfer.sh env -- .xfer/cospec eval ...
#       (the NVIDIA Vulkan driver's manifest named when the loader does not find it).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${COSPEC_MODELS_DIR:-$HOME/.cache/cospec/models}"
PROBLEMS="${COSPEC_PROBLEMS:-$HOME/.cache/cospec/problems/eng-v10-s0.jsonl}"
MODELS=(qwen2.5-coder-0.5b-instruct.gguf qwen2.5-coder-1.5b-instruct-q4_k_m.gguf)
PIECE=$((60 << 20))

pack() {
    grep -qxF '/.xfer/' .git/info/exclude 2>/dev/null || echo '/.xfer/' >> .git/info/exclude
    rm -rf .xfer && mkdir -p .xfer
    for m in "${MODELS[@]}"; do
        [[ -f "$DIR/$m" ]] || { echo "error: $DIR/$m missing: run scripts/fetch-models.sh qwen-draft qwen-target" >&2; exit 1; }
        echo "$m $(stat -c %s "$DIR/$m") $(sha256sum "$DIR/$m" | cut -d' ' -f1)" >> .xfer/manifest
    done
    # One stream cut into pieces; the manifest's sizes say where each file ends.
    cat "${MODELS[@]/#/$DIR/}" | split -b "$PIECE" -d -a 2 - .xfer/
    cargo build --release -q -p cospec-cli
    cp target/release/cospec .xfer/cospec
    cp "$PROBLEMS" .xfer/problems.jsonl
    # The machines may lack the Vulkan loader (../.library/device/README.md).
    mkdir -p .xfer/gl /tmp/cospec-apt-lists/partial
    (cd .xfer/gl && apt-get -qq -oAPT::Architecture=amd64 -oDir::State::Lists=/tmp/cospec-apt-lists update \
        && apt-get -qq -oAPT::Architecture=amd64 -oDir::State::Lists=/tmp/cospec-apt-lists download libvulkan1) >/dev/null 2>&1 \
        || echo "warning: could not download libvulkan1; the device must have its own loader" >&2
    ls .xfer | grep -E '^[0-9]+$' | sed 's|^|.xfer/|'
    echo "carry .xfer/manifest, .xfer/cospec, .xfer/problems.jsonl and .xfer/gl with the last piece"
}

unpack() {
    [[ -f .xfer/manifest ]] || { echo "error: .xfer/manifest did not arrive" >&2; exit 1; }
    mkdir -p "$DIR"
    local total=0 have=0
    while read -r name size sha; do total=$((total + size)); done < .xfer/manifest
    for p in .xfer/[0-9][0-9]; do have=$((have + $(stat -c %s "$p"))); done
    [[ $have == "$total" ]] || { echo "error: pieces hold $have bytes, the manifest $total: a piece is missing" >&2; exit 1; }
    local stream=.xfer/stream
    cat .xfer/[0-9][0-9] > "$stream"
    local at=0
    while read -r name size sha; do
        dd if="$stream" of="$DIR/$name" bs=4M iflag=skip_bytes,count_bytes skip="$at" count="$size" status=none
        [[ "$(sha256sum "$DIR/$name" | cut -d' ' -f1)" == "$sha" ]] || { echo "error: $name checksum differs" >&2; exit 1; }
        echo "$size $(stat -c %Y "$DIR/$name") $sha" > "$DIR/$name.verified"
        echo "ok: $DIR/$name"
        at=$((at + size))
    done < .xfer/manifest
    rm -f "$stream"
    if ! ldconfig -p | grep -q libvulkan.so.1; then
        for f in .xfer/gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    fi
}

run_env() {
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    if [[ -z "${VK_DRIVER_FILES:-}" && -f $icd ]] && ! ls /usr/share/vulkan/icd.d/*nvidia* >/dev/null 2>&1 && ! ls /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1; then
        export VK_DRIVER_FILES=$icd
    fi
    exec "$@"
}

case "${1:-}" in
    pack) pack ;;
    unpack) unpack ;;
    env) shift; [[ "${1:-}" == "--" ]] && shift; run_env "$@" ;;
    *) echo "usage: $0 pack | unpack | env -- COMMAND..." >&2; exit 2 ;;
esac
