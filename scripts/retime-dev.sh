#!/bin/bash
# The dev table's speed columns, measured again on this machine: every mode decodes the three timed
# problems (t77v9..t79v9) alone, one after the other, and their records replace the committed ones
# for those (mode, problem) pairs. The table's tok/s and speed-up columns then come from one machine
# at one time, side by side; a machine's speed differs between days by up to 2x here, so timings
# taken at different times must not share a table. Run it with nothing else on the cores and no eval
# writing the run (25-40 minutes on the 2-core VM), then write the table with results.md's eval
# command and `--table-only`. Texts are compared with the records they replace: greedy decoding on
# one adapter must repeat them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/cospec}
M=${M:-$HOME/.cache/cospec/models}
D=$M/qwen2.5-coder-0.5b-instruct.gguf
T=$M/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
P=${P:-$(python3 scripts/fetch_problems.py --variants 10)}
RUN=docs/runs/qwen-coder-dev
MODES=draft-only,target-only,spd,cospec:entropy,cospec:cosd,cospec:diff,cospec:learned
WORK=$(mktemp -d)

python3 - "$P" > "$WORK/timed3.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    problem = json.loads(line)
    if problem["variant"] == 9 and problem["template"] in (77, 78, 79):
        print(line, end="")
PY
[ "$(wc -l < "$WORK/timed3.jsonl")" = 3 ] || { echo "expected 3 timed problems in $P" >&2; exit 1; }

"$BIN" eval --draft "$D" --target "$T" --problems "$WORK/timed3.jsonl" --split dev --max-tokens 512 -k 4 \
    --modes "$MODES" --arbiter engine/arbiters/qwen-coder.safetensors --lockstep 1 --out "$WORK/out"

python3 - "$WORK/out/records.jsonl" "$RUN/records.jsonl" "$MODES" <<'PY'
import json, os, sys
new_path, run_path, modes = sys.argv[1:]
expected = 3 * len(modes.split(","))
new_lines = [l for l in open(new_path).read().splitlines() if l.strip()]
new = [json.loads(l) for l in new_lines]
if len(new) != expected or not all(r["timed"] for r in new):
    sys.exit(f"expected {expected} timed records, got {len(new)}")
# A learned record is keyed by its arbiter too: another arbiter's records stay, set aside.
key_of = lambda r: (r["mode"], r["problem"], r.get("arbiter"))
replaced = {key_of(r) for r in new}
kept, old = [], {}
for line in open(run_path).read().splitlines():
    if not line.strip():
        continue
    r = json.loads(line)
    key = key_of(r)
    if key in replaced:
        old.setdefault(key, []).append(r)
    else:
        kept.append(line)
for r in new:
    key = key_of(r)
    for o in old.get(key, []):
        same = "text same" if o["text"] == r["text"] else "TEXT DIFFERS"
        print(*key[:2], f"{r['tokens']} tokens in {r['seconds']:.1f} s", same, sep="  ")
# Written beside and renamed over, so an interruption never leaves the run's records truncated.
with open(run_path + ".swap", "w") as f:
    f.write("\n".join(kept + new_lines) + "\n")
os.replace(run_path + ".swap", run_path)
print(f"{run_path}: {len(kept) + len(new)} records, {len(new)} re-timed")
PY
rm -rf "$WORK"
