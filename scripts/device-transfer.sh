#!/usr/bin/env bash
# Takes the Qwen pair (and what an eval needs) to a remote GPU machine that has no network and
# receives at most 64 MiB per call:
#   here:        scripts/device-transfer.sh pack
#       writes .xfer/ (git-ignored through .git/info/exclude): pieces 00, 01, ... of at most
#       62 MiB, a manifest with each file's size and SHA-256, the problems file, the Vulkan
#       loader's package and .xfer/bin: the release `cospec`, the GPU test binaries and
#       matmul_bench (stripped, gzipped); prints the calls to make.
#   one call per piece, back to back (a machine keeps what earlier calls left outside the
#       repository only while it stays warm: 30 s after each call), each
#       run(carry=[".xfer/NN"], command="scripts/device-transfer.sh arrive"); the first call
#       carries .xfer/bin and .xfer/gl instead of a piece and checks the GPU (`probe`).
#   arrive:      moves carried pieces to $XFER_PIECES (outside the repository copy, which the
#       next call replaces), installs carried binaries into $XFER_BIN and the loader if missing.
#   unpack:      joins the pieces into $COSPEC_MODELS_DIR, checks sizes and SHA-256.
#   probe:       the adapter list, the card, and the GPU kernel and model tests.
#   keep DIR:    here, after the study call: puts what it returned (DIR under /work/.device)
#       back in the repository, to commit: the dev table's records (docs/runs/qwen-coder-dev),
#       new rollouts and the arbiter fitted to them (engine/arbiters).
#   env -- CMD:  runs CMD with the NVIDIA Vulkan driver's manifest named where the loader
#       would not find it.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${COSPEC_MODELS_DIR:-$HOME/.cache/cospec/models}"
PROBLEMS="${COSPEC_PROBLEMS:-$HOME/.cache/cospec/problems/eng-v10-s0.jsonl}"
MODELS=(qwen2.5-coder-0.5b-instruct.gguf qwen2.5-coder-1.5b-instruct-q4_k_m.gguf)
PIECE=$((62 << 20))
PIECES="${XFER_PIECES:-/root/cospec-pieces}"
BIN="${XFER_BIN:-/root/cospec-bin}"
TESTS=(kernels spec_kernels models speculative sequences lockstep)

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
    cargo test --release -q --no-run -p cospec-tests "${TESTS[@]/#/--test=}" 2>/dev/null
    cargo build --release -q -p cospec-tests --example matmul_bench
    mkdir -p .xfer/bin
    cp target/release/cospec target/release/examples/matmul_bench .xfer/bin/
    for t in "${TESTS[@]}"; do
        cp "$(ls -t target/release/deps/"$t"-* | grep -v '\.d$' | head -1)" ".xfer/bin/$t"
    done
    strip .xfer/bin/*
    gzip -9 -f .xfer/bin/*
    cp "$PROBLEMS" .xfer/problems.jsonl
    gzip -9 -c "$PROBLEMS" > .xfer/problems.jsonl.gz
    # Such machines may lack the Vulkan loader.
    mkdir -p .xfer/gl /tmp/cospec-apt-lists/partial
    (cd .xfer/gl && apt-get -qq -oAPT::Architecture=amd64 -oDir::State::Lists=/tmp/cospec-apt-lists update \
        && apt-get -qq -oAPT::Architecture=amd64 -oDir::State::Lists=/tmp/cospec-apt-lists download libvulkan1) >/dev/null 2>&1 \
        || echo "warning: could not download libvulkan1; the device must have its own loader" >&2
    echo "first call: carry .xfer/bin, .xfer/gl; command: scripts/device-transfer.sh arrive && scripts/device-transfer.sh probe"
    ls .xfer | grep -E '^[0-9]+$' | sed 's|^|then carry .xfer/|; s|$|; command: scripts/device-transfer.sh arrive|'
    echo "with the last piece also carry .xfer/manifest and .xfer/problems.jsonl, then: scripts/device-transfer.sh unpack"
}

arrive() {
    mkdir -p "$PIECES" "$BIN"
    for p in .xfer/[0-9][0-9]; do [[ -f $p ]] && mv "$p" "$PIECES/"; done
    for f in .xfer/manifest .xfer/problems.jsonl; do [[ -f $f ]] && cp "$f" "$PIECES/"; done
    [[ -f .xfer/problems.jsonl.gz ]] && gunzip -c .xfer/problems.jsonl.gz > "$PIECES/problems.jsonl"
    if compgen -G ".xfer/bin/*.gz" >/dev/null; then
        for f in .xfer/bin/*.gz; do gunzip -c "$f" > "$BIN/$(basename "$f" .gz)"; chmod +x "$BIN/$(basename "$f" .gz)"; done
    fi
    if ! ldconfig -p | grep -q libvulkan.so.1 && compgen -G ".xfer/gl/*.deb" >/dev/null; then
        for f in .xfer/gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    fi
    echo "arrived: $(ls "$PIECES" | grep -cE '^[0-9]+$') pieces, $(du -sb "$PIECES" | cut -f1) bytes; binaries: $(ls "$BIN" | tr '\n' ' ')"
}

probe() {
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv || true
    run_env_here
    "$BIN/cospec" adapters
    export XDG_RUNTIME_DIR=/tmp
    # Side by side: the binaries spend most of their time in CPU references, and device time
    # is what a remote machine is short of (one after the other they took about 70 s on the H200).
    local logs=/tmp/cospec-probe
    mkdir -p $logs
    for t in "${TESTS[@]}"; do
        timeout 60 "$BIN/$t" --test-threads=4 > "$logs/$t.log" 2>&1 &
    done
    wait
    for t in "${TESTS[@]}"; do
        echo "== $t"
        grep -E '^test |test result|panicked|error' "$logs/$t.log" | grep -v ' ok$' || true
        grep -q 'test result' "$logs/$t.log" || echo "no result: timed out (60 s) or crashed; last lines: $(tail -n 3 "$logs/$t.log" | tr '\n' ' ')"
    done
}

unpack() {
    [[ -f $PIECES/manifest ]] || { echo "error: the manifest did not arrive in $PIECES" >&2; exit 1; }
    mkdir -p "$DIR"
    local total=0 have=0
    while read -r name size sha; do total=$((total + size)); done < "$PIECES/manifest"
    for p in "$PIECES"/[0-9][0-9]; do have=$((have + $(stat -c %s "$p"))); done
    [[ $have == "$total" ]] || { echo "error: pieces hold $have bytes, the manifest $total: a piece is missing" >&2; exit 1; }
    local stream=$PIECES/stream
    cat "$PIECES"/[0-9][0-9] > "$stream"
    local at=0
    while read -r name size sha; do
        dd if="$stream" of="$DIR/$name" bs=4M iflag=skip_bytes,count_bytes skip="$at" count="$size" status=none
        [[ "$(sha256sum "$DIR/$name" | cut -d' ' -f1)" == "$sha" ]] || { echo "error: $name checksum differs" >&2; exit 1; }
        echo "$size $(stat -c %Y "$DIR/$name") $sha" > "$DIR/$name.verified"
        echo "ok: $DIR/$name"
        at=$((at + size))
    done < "$PIECES/manifest"
    rm -f "$stream"
}

# After a study call: the files it returned (a folder under /work/.device) replace what the
# repository holds when they hold at least as much: the dev table's records, the rollouts and
# the arbiter refitted from them. Commit them: the next study resumes from them.
lines() { if [[ -f $1 ]]; then grep -c . "$1" || true; else echo 0; fi; }

keep() {
    local from=${1:?usage: keep DIR (the folder the study call returned)}
    local runs=docs/runs/qwen-coder-dev
    mkdir -p "$runs"
    if [[ -f $from/records.jsonl ]] && (( $(lines "$from/records.jsonl") >= $(lines "$runs/records.jsonl") )); then
        cp "$from/records.jsonl" "$runs/records.jsonl"
        echo "kept $(lines "$runs/records.jsonl") eval records in $runs (rewrite its table: cospec eval ... --out $runs --table-only)"
    fi
    local roll=engine/arbiters/qwen-coder.rollouts.jsonl
    if [[ -f $from/qwen-coder.rollouts.jsonl ]] && (( $(lines "$from/qwen-coder.rollouts.jsonl") > $(lines "$roll") )); then
        cp "$from/qwen-coder.rollouts.jsonl" "$roll"
        [[ -f $from/qwen-coder.safetensors ]] && cp "$from/qwen-coder.safetensors" engine/arbiters/qwen-coder.safetensors
        echo "kept $(lines "$roll") rollouts and the arbiter fitted to them"
    fi
    local logs="${COSPEC_RUNS:-$HOME/.cache/cospec/runs}/device-$(date +%Y%m%d-%H%M)"
    mkdir -p "$logs"
    for f in study.log table.md bench.jsonl flips.md; do [[ -f $from/$f ]] && cp "$from/$f" "$logs/$f"; done
    echo "the study's log and benchmark lines: $logs (copy the figures into docs/)"
    return 0
}

run_env_here() {
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    if [[ -z "${VK_DRIVER_FILES:-}" && -f $icd ]] && ! ls /usr/share/vulkan/icd.d/*nvidia* >/dev/null 2>&1 && ! ls /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1; then
        export VK_DRIVER_FILES=$icd
    fi
}

run_env() {
    run_env_here
    exec "$@"
}

case "${1:-}" in
    pack) pack ;;
    arrive) arrive ;;
    probe) probe ;;
    unpack) unpack ;;
    keep) shift; keep "$@" ;;
    env) shift; [[ "${1:-}" == "--" ]] && shift; run_env "$@" ;;
    *) echo "usage: $0 pack | arrive | probe | unpack | keep DIR | env -- COMMAND..." >&2; exit 2 ;;
esac
