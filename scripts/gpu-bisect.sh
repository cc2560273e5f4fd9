#!/usr/bin/env bash
# Finds which commit changed the GPU path's speed: `cospec` built at several commits, then
# measured side by side on one GPU and one model file (a shape twin is enough: speed needs no
# real weights), the binaries alternated so that the card's drift hits them alike.
#   scripts/gpu-bisect.sh pack DIR COMMIT...       here: builds `cospec` at each commit (a git
#       worktree under target/bisect while it builds) into DIR/cospec-<short sha>, stripped
#   scripts/gpu-bisect.sh run DIR MODEL [ROUNDS]   on the GPU machine: `cospec bench --json` of
#       each binary, ROUNDS alternations (default 2); one line a binary and round: commit,
#       decode tok/s, prompt tok/s, launches a pass, the products' ms a decode pass
# Binaries that know --kv-type run with an f32 cache, as older ones always did, so only the
# kernels differ. VK_DRIVER_FILES / LD_LIBRARY_PATH name the GPU's driver as for any Vulkan
# program; the adapter each binary used is printed, so a run on a CPU driver is seen.
set -uo pipefail
cd "$(dirname "$0")/.."

pack() {
    local dir="$1"; shift
    mkdir -p "$dir" target/bisect
    local c sha wt
    for c in "$@"; do
        sha=$(git rev-parse --short=9 "$c") || exit 1
        wt="target/bisect/$sha"
        [[ -d $wt ]] || git worktree add --detach "$wt" "$sha" >/dev/null || exit 1
        # One target folder for every commit: crates that did not change are built once.
        (cd "$wt" && CARGO_TARGET_DIR="$PWD/../target-shared" cargo build --release -q -p cospec-cli) || { echo "build failed at $sha" >&2; exit 1; }
        cp target/bisect/target-shared/release/cospec "$dir/cospec-$sha"
        strip "$dir/cospec-$sha" 2>/dev/null || true
        git worktree remove --force "$wt"
        echo "packed $dir/cospec-$sha"
    done
}

run() {
    local dir="$1" model="$2" rounds="${3:-2}" r bin kv out
    [[ -f $model ]] || { echo "no model file $model" >&2; exit 2; }
    export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
    echo "commit        decode tok/s  prompt tok/s  launches  matmul ms  adapter"
    for ((r = 1; r <= rounds; r++)); do
        for bin in "$dir"/cospec-*; do
            kv=()
            "$bin" --help 2>/dev/null | grep -q -- --kv-type && kv=(--kv-type f32)
            out=$("$bin" "${kv[@]}" bench --model "$model" --prompt-tokens 128 --gen-tokens 64 --reps 2 --json 2>/dev/null | tail -1)
            python3 - "${bin##*cospec-}" "$out" <<'PY'
import json, sys
sha, line = sys.argv[1], sys.argv[2]
try:
    b = json.loads(line)
except ValueError:
    print(f"{sha:<13} failed: {line[:100]!r}")
    sys.exit(0)
ms = b.get("decode_kernel_ms") or {}
print(f"{sha:<13} {b['decode_tok_per_s']:>12.1f}  {b['prompt_tok_per_s']:>12.1f}  {b.get('dispatches_per_pass', 0):>8}  {ms.get('matmul', float('nan')):>9.2f}  {b['adapter']}")
PY
        done
    done
}

case "${1:-}" in
    pack) shift; [[ $# -ge 2 ]] || { echo "usage: $0 pack DIR COMMIT..." >&2; exit 2; }; pack "$@" ;;
    run) shift; [[ $# -ge 2 ]] || { echo "usage: $0 run DIR MODEL [ROUNDS]" >&2; exit 2; }; run "$@" ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
esac
