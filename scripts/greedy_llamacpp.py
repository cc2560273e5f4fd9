#!/usr/bin/env python3
"""Greedy continuations of a handful of prompts from cospec and from llama.cpp on the same GGUF,
side by side: whether each engine writes the same tokens (text) for 32 steps.

Usage: python3 scripts/greedy_llamacpp.py MODEL.gguf [--tokens 32]
Needs llama-cpp-python and a release build of the CLI (target/release/cospec). Both engines add
the BOS token when the model asks for one. Prints one JSON line per prompt and a summary line.
"""
import argparse
import json
import os
import subprocess

from llama_cpp import Llama

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Water boils at",
    "Once upon a time, in a small village,",
    "The three primary colors are",
    "import numpy as np\n",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--tokens", type=int, default=32)
    a = ap.parse_args()
    cospec = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target", "release", "cospec")
    llm = Llama(model_path=a.model, n_threads=2, n_ctx=512, verbose=False)
    same = 0
    for p in PROMPTS:
        ref = llm.create_completion(p, max_tokens=a.tokens, temperature=0.0, top_k=1)["choices"][0]["text"]
        out = subprocess.run([cospec, "run", "--model", a.model, "--prompt", p, "--max-tokens", str(a.tokens), "--temperature", "0"],
                             capture_output=True, text=True, check=True, env={**os.environ, "XDG_RUNTIME_DIR": "/tmp"})
        assert out.stdout.startswith(p), out.stdout
        mine = out.stdout[len(p):]
        # The CLI ends its output with a newline of its own.
        mine = mine[:-1] if mine.endswith("\n") else mine
        same += ref == mine
        print(json.dumps({"prompt": p, "same": ref == mine, "llama.cpp": ref, "cospec": mine}, ensure_ascii=False))
    print(f"{same}/{len(PROMPTS)} identical greedy continuations of {a.tokens} tokens")


if __name__ == "__main__":
    main()
