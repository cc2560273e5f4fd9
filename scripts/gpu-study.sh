#!/usr/bin/env bash
# The arbiter study on a GPU machine inside a fixed time budget. Everything it makes is
# resumable, so each run's GPU time adds to the last: the dev table (eval) first, then
# rollouts (train-arbiter) with the time it leaves.
#   COSPEC_BIN=target/release BUDGET=1800 LOCKSTEP=32 TIMED=5 OUT=study-out scripts/gpu-study.sh
# COSPEC_BIN: the folder holding `cospec` (and, for the wide-tile check, the `kernels` test
# binary and `matmul_bench`; without them the check is skipped); the pair in
# COSPEC_MODELS_DIR (scripts/fetch-models.sh qwen); the problems in COSPEC_PROBLEMS
# (scripts/fetch_problems.py).
# BUDGET: seconds for the whole script; TRAIN_SHARE: percent of what is left after the
# benchmarks kept from the eval for rollouts; SHARDS: processes side by side
# (one GPU runs processes time-sliced: on the H200 three together made ~62 tok/s, less than
# one process decodes alone).
# LOCKSTEP: lanes decoded side by side in eval (the same tokens as one at a time; a lane takes the
# next generation as its own ends); TIMED: problems decoded one at a time first, for the speed
# columns (one at a time, each costs several times what a problem in lock step does).
# Earlier results resume from the repository: the dev table's records (docs/runs/qwen-coder-dev)
# and the rollouts (engine/arbiters). Results go to $OUT (or ./study-out) as they finish: the
# log, the benchmark lines, the rollouts, the arbiter, the eval records and table, to be copied
# back into docs/runs/qwen-coder-dev and engine/arbiters and committed.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
BUDGET="${BUDGET:-300}"
SHARDS="${SHARDS:-1}"
# The dev table runs after the tuning (its learned row uses the committed arbiter, and when a
# later run retrains, eval reruns only that mode); the time it leaves goes to rollouts,
# TRAIN_SHARE percent of it reserved for them.
TRAIN_SHARE="${TRAIN_SHARE:-0}"
# TUNE_SHARE percent of what the benchmarks leave goes to tuning the heuristics first: every
# point of each rule's grid (eval --modes grid:RULE) on the first TUNE_PROBLEMS train problems;
# the best point per rule lands in tuned.json, and the dev eval then runs those points beside
# the defaults (docs/results.md). Records resume from docs/runs/qwen-coder-tune-train.
TUNE_SHARE="${TUNE_SHARE:-0}"
TUNE_PROBLEMS="${TUNE_PROBLEMS:-120}"
LOCKSTEP="${LOCKSTEP:-32}"
# Lanes in rollouts: the round's trajectories go through them as one queue, and each one's
# branches fork off its cache when it ends, before the next trajectory starts; each problem is
# written once its branches are done. The run drains before its limit (no new trajectory
# starts; those under way finish with their branches), so the limit loses no half-done problem.
TRAIN_LOCKSTEP="${TRAIN_LOCKSTEP:-32}"
# Round 1 takes SPD's trajectories of the first PER_ROUND training problems (the 60 originals,
# then variant 1 of each template, ...; the committed rollouts hold its first 116), rounds 2 and
# 3 the next slices on-policy. Their 62 decisive rollouts support no rule better than always
# taking the target's token held out (docs/results.md): the learner needs hundreds, and lock
# step on a GPU should make them cheap.
# A round is fitted when every problem of it is in; a run that stops inside one leaves its
# rollouts for the next.
ROUNDS="${ROUNDS:-3}"
PER_ROUND="${PER_ROUND:-150}"
DEV_ROLLOUTS="${DEV_ROLLOUTS:-0}"
TIMED="${TIMED:-5}"
BIN="${COSPEC_BIN:-target/release}"
M="${COSPEC_MODELS_DIR:-$HOME/.cache/cospec/models}"
D="$M/qwen2.5-coder-0.5b-instruct.gguf"
T="$M/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
P="${COSPEC_PROBLEMS:-$HOME/.cache/cospec/problems/eng-v10-s0.jsonl}"
OUTDIR="${OUT:-$PWD/study-out}"
WORK="${STUDY_WORK:-$(mktemp -d)}"
mkdir -p "$OUTDIR" "$WORK"
[[ -x $BIN/cospec ]] || { echo "no cospec binary in $BIN (set COSPEC_BIN)" >&2; exit 2; }
for f in "$D" "$T" "$P"; do [[ -f $f ]] || { echo "missing $f" >&2; exit 2; }; done
LOG="$OUTDIR/study.log"
left() { echo $((BUDGET - ($(date +%s) - start))); }
say() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$LOG"; }
cospec() { "$BIN/cospec" "$@"; }

# Runs SHARDS copies of a cospec command (each with --shard i/SHARDS) for at most $1 seconds.
sharded() {
    local secs=$1; shift
    local pids=()
    for ((i = 0; i < SHARDS; i++)); do
        timeout "$secs" "$BIN/cospec" "$@" --shard "$i/$SHARDS" \
            > "$WORK/shard$i.out" 2> "$WORK/shard$i.err" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || say "a shard ended with status $? (124: out of time)"; done
    tr '\r' '\n' < "$WORK"/shard0.err | grep 'lock-step steps' >> "$LOG"
    tail -q -n 3 "$WORK"/shard*.err | tr '\r' '\n' | grep -v '^\s*$' | tail -n 8 >> "$LOG"
}

say "budget $BUDGET s, $SHARDS shards"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv,noheader >> "$LOG" 2>&1
cospec adapters >> "$LOG" 2>&1

# Standalone speeds of the real weights (before the shards share the GPU).
# BENCH_MODELS: none (default: the figures are on record in docs/perf.md, and the eval's timed
# problems show the one-sequence speeds), target, or "target draft" (about 45 s each).
bench_models=()
for b in ${BENCH_MODELS:-}; do [[ $b == target ]] && bench_models+=("$T"); [[ $b == draft ]] && bench_models+=("$D"); done
for model in "${bench_models[@]}"; do
    timeout "${BENCH_SECS:-60}" "$BIN/cospec" bench --model "$model" --prompt-tokens 128 --gen-tokens 64 --reps 2 --json \
        >> "$OUTDIR/bench.jsonl" 2>> "$LOG" || say "bench of $model failed"
done

# The cooperative products' wide form (COSPEC_COOP_WIDE=TM,MIN,RPI: TM tokens a tile, RPI rows
# an invocation) for lock step's blocks of one token per lane: the target's two largest
# products (gate/up: 8960 x 1536 Q4_K; down: 1536 x 8960 Q6_K) at a block of $LOCKSTEP tokens
# and at 1 token, each form in one matmul_bench process (seconds, not a model load per form);
# the eval uses the fastest if it takes at most 95% of none's time and the GPU's kernels keep a
# token's bits with it (tests/tests/kernels/matmul_cases.rs). WIDE_TILES="" skips this.
WIDE_TILES="${WIDE_TILES-16,16,1 16,16,2 32,16,2}"
wide_best=off
if [[ -n $WIDE_TILES ]] && timeout 60 "$BIN/kernels" cooperative_wide >> "$LOG" 2>&1; then
    wide_args=(--matmul=cooperative --blocks=1,"$LOCKSTEP" --wide=off)
    for w in $WIDE_TILES; do wide_args+=(--wide="$w"); done
    for shape in "8960 1536 q4_k" "1536 8960 q6_k"; do
        # shellcheck disable=SC2086
        timeout "${WIDE_SECS:-60}" "$BIN/matmul_bench" $shape "${wide_args[@]}" >> "$OUTDIR/wide.txt" 2>> "$LOG" \
            || say "matmul_bench $shape failed"
    done
    cat "$OUTDIR/wide.txt" >> "$LOG"
    wide_best=$(python3 - "$OUTDIR/wide.txt" <<'PY' 2>> "$LOG" || echo off
import re, sys
total = {}
for line in open(sys.argv[1]):
    m = re.match(r"wide (\S+): ([0-9.]+) ms", line)
    if m:
        total[m.group(1)] = total.get(m.group(1), 0.0) + float(m.group(2))
best = min(total, key=total.get) if total else "off"
print(best if "off" in total and total[best] <= 0.95 * total["off"] else "off")
PY
)
    rm -f "$OUTDIR/wide.txt"
else
    say "wide tile not tried (WIDE_TILES empty, or the kernels' bit check failed on this GPU)"
fi
export COSPEC_COOP_WIDE=$wide_best
say "bench: $(tr '\n' ' ' < "$OUTDIR/bench.jsonl" 2>/dev/null)"
say "eval and rollouts with COSPEC_COOP_WIDE=$wide_best"

# The runs write in $WORK, and a copier puts the files that matter into $OUT every 15 s (each
# replaced whole), so a run killed at its limit still leaves every finished record and
# rollout there. Earlier results in the repository (committed records and rollouts) resume.
ARB=engine/arbiters/qwen-coder.safetensors
ROLL=engine/arbiters/qwen-coder.rollouts.jsonl
RUNS=docs/runs/qwen-coder-dev
EVAL_DIR="$WORK/eval-dev"
TUNE_RUNS=docs/runs/qwen-coder-tune-train
TUNE_DIR="$WORK/tune-train"
mkdir -p "$EVAL_DIR" "$TUNE_DIR"
for f in records.jsonl config.json; do if [[ -f $RUNS/$f ]]; then cp "$RUNS/$f" "$EVAL_DIR/"; fi; done
for f in records.jsonl config.json; do if [[ -f $TUNE_RUNS/$f ]]; then cp "$TUNE_RUNS/$f" "$TUNE_DIR/"; fi; done
TRAINED="$WORK/qwen-coder.safetensors"
TRAIN_ROLL="$WORK/qwen-coder.rollouts.jsonl"
cp "$ARB" "$TRAINED"
cp "$ROLL" "$TRAIN_ROLL"
bring_back() {
    for f in "$EVAL_DIR/records.jsonl" "$EVAL_DIR/flips.md" "$TRAIN_ROLL" "$TRAINED"; do
        [[ -f $f ]] && cp "$f" "$OUTDIR/.$(basename "$f").part" && mv "$OUTDIR/.$(basename "$f").part" "$OUTDIR/$(basename "$f")"
    done
    for f in records.jsonl tuned.json; do
        [[ -f $TUNE_DIR/$f ]] && cp "$TUNE_DIR/$f" "$OUTDIR/.tune-$f.part" && mv "$OUTDIR/.tune-$f.part" "$OUTDIR/tune-$f"
    done
}
(while sleep 15; do bring_back; done) &
copier=$!
tune_secs=$(( ($(left) - 40) * TUNE_SHARE / 100 ))
tuned=""
if ((tune_secs > 30)); then
    grid=spd,grid:entropy,grid:cosd,grid:chow,grid:diff,grid:opt
    say "tuning: train split, $grid, first $TUNE_PROBLEMS problems, for $tune_secs s"
    sharded "$tune_secs" eval --draft "$D" --target "$T" --problems "$P" --split train --limit "$TUNE_PROBLEMS" --max-tokens 512 -k 4 \
        --modes "$grid" --lockstep "$LOCKSTEP" --timed 0 --out "$TUNE_DIR"
    cospec eval --draft "$D" --target "$T" --problems "$P" --split train --limit "$TUNE_PROBLEMS" --max-tokens 512 -k 4 --modes "$grid" \
        --out "$TUNE_DIR" --table-only > "$OUTDIR/tune-table.md" 2>> "$LOG"
    # The picks go to dev only once every point has all TUNE_PROBLEMS (until then a later run
    # goes on with the tuning).
    if [[ -f $TUNE_DIR/tuned.json ]]; then
        tuned=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(",".join(p["mode"] for p in t["picks"]) if t["problems"] >= int(sys.argv[2]) else "")' \
            "$TUNE_DIR/tuned.json" "$TUNE_PROBLEMS")
        say "tuned on train: ${tuned:-not yet (fewer than $TUNE_PROBLEMS problems in every point)}"
    fi
fi

reserve=$(( ($(left) - 40) * TRAIN_SHARE / 100 ))
eval_secs=$(( $(left) - 25 - reserve ))
if ((eval_secs > 30)); then
    modes=draft-only,target-only,spd,cospec:entropy,cospec:cosd,cospec:diff
    if [[ -n $tuned ]]; then modes+=",$tuned"; fi
    args=()
    if [[ -f $ARB ]]; then modes+=",cospec:learned"; args=(--arbiter "$ARB"); fi
    say "eval: dev split, $modes, for $eval_secs s"
    sharded "$eval_secs" eval --draft "$D" --target "$T" --problems "$P" --split dev --limit 200 --max-tokens 512 -k 4 \
        --modes "$modes" "${args[@]}" --lockstep "$LOCKSTEP" --timed "$TIMED" --out "$EVAL_DIR"
    cospec eval --draft "$D" --target "$T" --problems "$P" --split dev --limit 200 --max-tokens 512 -k 4 --modes "$modes" "${args[@]}" \
        --out "$EVAL_DIR" --table-only > "$OUTDIR/table.md" 2>> "$LOG"
fi

train_secs=$(( $(left) - 20 ))
if ((train_secs > 30)); then
    say "rollouts: $ROUNDS rounds of $PER_ROUND problems for $train_secs s"
    # The run drains and stops before its limit and resumes on the next run; each finished round
    # fits and writes the arbiter. A drain's tail: a trajectory, then its branches, each at
    # most 384 steps (~120 ms a step at 32 lanes on the H200: under 100 s).
    drain=$(( train_secs > 240 ? train_secs - 120 : train_secs / 2 ))
    sharded "$train_secs" train-arbiter --draft "$D" --target "$T" --problems "$P" --out "$TRAINED" --rollouts "$TRAIN_ROLL" \
        --rounds "$ROUNDS" --problems-per-round "$PER_ROUND" --dev-problems "$DEV_ROLLOUTS" --max-tokens 384 -k 4 \
        --lockstep "$TRAIN_LOCKSTEP" --drain-after "$drain"
    say "rollouts: $(grep -c . "$TRAIN_ROLL" 2>/dev/null) records from $(cut -d'"' -f4 "$TRAIN_ROLL" 2>/dev/null | sort -u | wc -l) problems"
fi

kill "$copier" 2>/dev/null
bring_back
say "done; $(ls "$OUTDIR" | tr '\n' ' ')"
