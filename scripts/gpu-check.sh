#!/usr/bin/env bash
# The GPU check: on a machine with a GPU (no network needed), first every GPU test binary
# (kernels against CPU references, models, speculative steps, sequences, lock step), then one
# Markdown table per model: decode tok/s, launches per pass, whole passes of 1/2/4/5/8-token
# blocks against a 1-token pass, the weight bytes a decode pass reads per second, per-kernel ms;
# and llama.cpp's llama-bench on the same files when given. Test failures are reported before
# any speed figure, and make the script exit 1 at the end.
#   scripts/gpu-check.sh [--bin DIR] [--llama-bench PATH] [--peak-gbs N] [--pair DRAFT TARGET]
#                        [--allow-cpu] MODEL.gguf ...
# --pair DRAFT TARGET: target-only against SPD with k = 2, 4, 6 on a few prompts (tokens per
#   target pass mean something only with real weights), and the pass costs behind it: a draft
#   pass against a target pass, each k's verify block and step floor.
# --bin DIR: prebuilt `cospec` and test binaries (as `scripts/gpu-check.sh pack DIR` writes
#   them), for a machine without a Rust toolchain; without it they are built here with cargo.
# --peak-gbs N: the card's memory bandwidth in GB/s, for a "% of bandwidth" column.
# --allow-cpu: run even when the adapter is a CPU implementation (lavapipe, SwiftShader);
#   without it the check refuses, so a GPU machine whose driver failed to load is not
#   silently measured on the CPU.
# Models may be real files or shape twins (same size, shapes and types; speed needs no real
# weights). Output: Markdown on stdout; keep the latest in docs/perf.md with card and driver.
#   scripts/gpu-check.sh pack DIR   builds release binaries here and puts them in DIR
set -uo pipefail
cd "$(dirname "$0")/.."

GPU_TESTS=(kernels spec_kernels models speculative sequences lockstep binding_cap sampling)

pack() {
    local dir="$1"
    mkdir -p "$dir"
    cargo build --release -q -p cospec-cli || exit 1
    cp target/release/cospec "$dir/"
    local t exe
    for t in "${GPU_TESTS[@]}"; do
        exe=$(cargo test --release -q -p cospec-tests --test "$t" --no-run --message-format=json 2>/dev/null \
            | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable"): print(m["executable"])' | tail -1)
        [[ -n "$exe" ]] || { echo "error: could not build test binary $t" >&2; exit 1; }
        cp "$exe" "$dir/$t"
    done
    strip "$dir"/* 2>/dev/null || true
    echo "packed: $(ls "$dir" | tr '\n' ' ')"
}

if [[ "${1:-}" == pack ]]; then
    [[ -n "${2:-}" ]] || { echo "usage: $0 pack DIR" >&2; exit 2; }
    pack "$2"
    exit 0
fi

bin="" llama="" peak="" allow_cpu=0 models=() pair_draft="" pair_target=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin) bin="$2"; shift 2 ;;
        --llama-bench) llama="$2"; shift 2 ;;
        --peak-gbs) peak="$2"; shift 2 ;;
        --allow-cpu) allow_cpu=1; shift ;;
        --pair) pair_draft="$2"; pair_target="$3"; shift 3 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) models+=("$1"); shift ;;
    esac
done
for m in "${models[@]}"; do
    [[ -f "$m" ]] || { echo "error: no model file $m" >&2; exit 2; }
done
if [[ -z "$bin" ]]; then
    bin="target/gpu-check"
    pack "$bin" >&2
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
# Models for the tests that load real files: found where scripts/fetch-models.sh caches them;
# missing ones are skipped with a note (a GPU machine may carry only twins).
unset COSPEC_REQUIRE_MODELS

echo "# GPU check, $(date -u +%Y-%m-%d) ($(git rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
echo
echo '```'
"$bin/cospec" adapters 2>&1
echo '```'
picked=$("$bin/cospec" adapters 2>&1 | sed -n 's/^picked: //p')
if [[ $allow_cpu == 0 ]] && grep -qE ', Cpu, |^none' <<< "$picked"; then
    echo "error: the adapter picked is no GPU ($picked): did the GPU's Vulkan driver load? (--allow-cpu to run anyway)" >&2
    exit 1
fi

echo
echo "## GPU tests"
echo
echo "| test binary | passed | failed | seconds |"
echo "|---|---|---|---|"
failed_tests=()
logs="$(mktemp -d)"
for t in "${GPU_TESTS[@]}"; do
    start=$(date +%s)
    "$bin/$t" > "$logs/$t.log" 2>&1
    rc=$?
    result=$(grep '^test result:' "$logs/$t.log" | tail -1)
    passed=$(sed -n 's/.* \([0-9]*\) passed.*/\1/p' <<< "$result")
    failed=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<< "$result")
    echo "| $t | ${passed:-?} | ${failed:-?} | $(( $(date +%s) - start )) |"
    [[ $rc -eq 0 ]] || failed_tests+=("$t")
done
echo
if [[ ${#failed_tests[@]} -gt 0 ]]; then
    echo "**FAILED: ${failed_tests[*]}** (the figures below are of a build that computes wrong results here)"
    for t in "${failed_tests[@]}"; do
        echo
        echo "### $t"
        echo '```'
        grep -E -A40 '^---- .* stdout ----' "$logs/$t.log" | grep -vE '^\s+[0-9]+: |^note: ' | head -80
        echo '```'
    done
else
    echo "All GPU tests passed."
fi

for m in "${models[@]}"; do
    echo
    echo "## $(basename "$m") ($(( $(stat -c %s "$m") / 1000000 )) MB)"
    echo
    json=$("$bin/cospec" bench --model "$m" --prompt-tokens 128 --gen-tokens 128 --reps 3 --blocks 1,2,4,5,8 --json 2>"$logs/bench.err") \
        || { echo "bench failed:"; echo '```'; cat "$logs/bench.err"; echo '```'; continue; }
    python3 - "$json" "$peak" <<'EOF'
import json, sys
b = json.loads(sys.argv[1]); peak = float(sys.argv[2]) if sys.argv[2] else None
gbs = b["decode_weight_gb_per_s"]
share = f" ({100 * gbs / peak:.1f}% of {peak:.0f} GB/s)" if peak else ""
print(f"adapter: {b['adapter']}; matmul {b['matmul']}, weights in {b['weights']}s\n")
print("| decode tok/s | prompt 128 tok/s | launches per pass | weights read | " + " | ".join(f"block {p['tokens']}" for p in b["block_pass"]) + " |")
print("|---" * (4 + len(b["block_pass"])) + "|")
print(f"| {b['decode_tok_per_s']:.1f} | {b['prompt_tok_per_s']:.1f} | {b['dispatches_per_pass']} | {gbs:.0f} GB/s{share} | "
      + " | ".join(f"{p['ms']:.3f} ms ({p['vs_one_token']:.2f}x)" for p in b["block_pass"]) + " |")
print("\nper kernel, 1-token pass (each kernel's launches alone): "
      + ", ".join(f"{k} {v:.2f} ms" for k, v in sorted(b["decode_kernel_ms"].items(), key=lambda kv: -kv[1])))
EOF
    if [[ -n "$llama" ]]; then
        echo
        echo "llama.cpp (\`llama-bench -ngl 99 -p 128 -n 128\`, same file):"
        echo
        "$llama" -m "$m" -ngl 99 -p 128 -n 128 -r 3 -o md 2>"$logs/llama.err" || { echo '```'; tail -5 "$logs/llama.err"; echo '```'; }
    fi
done
if [[ -n "$pair_draft" ]]; then
    echo
    echo "## Speculative decoding: $(basename "$pair_draft") drafting for $(basename "$pair_target")"
    echo
    printf '%s\n' '["What is 17 * 23? Answer with the number.", "Write a Python function that reverses a list.", "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?"]' > "$logs/prompts.json"
    "$bin/cospec" bench-spd --draft "$pair_draft" --target "$pair_target" --prompts "$logs/prompts.json" --limit 3 --max-tokens 128 --ks 2,4,6 2>"$logs/spd.err" \
        || { echo '```'; tail -5 "$logs/spd.err"; echo '```'; }
fi
rm -rf "$logs"
[[ ${#failed_tests[@]} -eq 0 ]]
