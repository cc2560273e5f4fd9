#!/usr/bin/env bash
# Runs one fuzz target coverage-guided (cargo-fuzz, libFuzzer) for SECONDS, starting from its
# seed corpus (fuzz/corpus/TARGET, copied: the run's own finds stay outside the repository),
# and ends with one line: executions, crashes, hangs. Targets: tests/src/fuzz.rs.
# Usage: scripts/fuzz.sh TARGET SECONDS [JOBS]   (installs cargo-fuzz if it is missing)
# libFuzzer's instrumentation flags are unstable rustc options; RUSTC_BOOTSTRAP lets the
# stable toolchain take them, so no nightly toolchain is needed.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh TARGET SECONDS [JOBS]}"
seconds="${2:?usage: scripts/fuzz.sh TARGET SECONDS [JOBS]}"
jobs="${3:-1}"
[[ -d "fuzz/corpus/$target" ]] || { echo "no target $target (fuzz/corpus has: $(ls fuzz/corpus | tr '\n' ' '))" >&2; exit 2; }
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
work="${COSPEC_FUZZ_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cospec/fuzz}/$target"
mkdir -p "$work/corpus" "$work/artifacts"
cp -n fuzz/corpus/"$target"/* "$work/corpus/" 2>/dev/null || true
log="$work/run.log"
export RUSTC_BOOTSTRAP=1
# -s none: Rust is memory-safe without AddressSanitizer; what is sought is panics, hangs
# (-timeout) and runaway allocation (-rss_limit_mb, -malloc_limit_mb).
# Several jobs each write fuzz-N.log in the working directory: moved beside the run's log.
parallel=()
[[ "$jobs" -gt 1 ]] && parallel=(-jobs="$jobs" -workers="$jobs")
rm -f "$work"/fuzz-*.log
set +e
cargo fuzz run --fuzz-dir fuzz -s none --release "$target" "$work/corpus" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 "${parallel[@]}" >"$log" 2>&1
status=$?
set -e
logs=(fuzz-*.log); [[ ${#logs[@]} -gt 0 ]] && mv "${logs[@]}" "$work/"
# With several jobs the run's log repeats each job's final stats: count the jobs' own logs.
counted=("$work"/fuzz-*.log)
[[ ${#counted[@]} -eq 0 ]] && counted=("$log")
execs=$(cat "${counted[@]}" | grep "stat::number_of_executed_units" | awk '{s += $2} END {print s + 0}')
crashes=$(ls "$work/artifacts" | grep -c -E '^(crash|oom)-' || true)
hangs=$(ls "$work/artifacts" | grep -c -E '^(timeout|slow-unit)-' || true)
echo "$target: $execs executions in $seconds s, $crashes crashes, $hangs hangs (exit $status; log $log, findings $work/artifacts)"
[[ $crashes -eq 0 && $hangs -eq 0 ]]
