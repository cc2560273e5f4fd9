#!/usr/bin/env python3
"""Writes the original questions of GSM-symbolic English templates FIRST..LAST (default 0..9,
the training split) as a JSON array of strings, for `cospec bench-spd --prompts`. The problems
come from scripts/fetch_problems.py (fetched and cached there, never in the repo)."""
import json, os, subprocess, sys

first, last = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (0, 9)
fetch = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fetch_problems.py")
path = subprocess.run([sys.executable, fetch, "--variants", "0"], check=True, capture_output=True, text=True).stdout.strip()
rows = [json.loads(l) for l in open(path, encoding="utf-8")]
originals = {r["template"]: r["question"] for r in rows if r["variant"] == 0}
print(json.dumps([originals[t] for t in range(first, last + 1)], indent=1))
