#!/usr/bin/env python3
"""llama.cpp's logits for the tiny random models of the tests, the reference that
tests/tests/llamacpp_tiny.rs holds cospec to: every architecture cospec runs, written by
`cargo run -p cospec-tests --example tiny_models` (all-F32 weights, and with the specs'
quantized types), teacher-forced through llama.cpp (llama-cpp-python, f32 KV cache, flash
attention off) over 20 fixed token ids. Each quantized model runs twice: as it is (llama.cpp
rounds activations to 8 bits in its quantized products) and as its F32 twin, every tensor
dequantized by the `gguf` package (scripts/dequantize_gguf.py), written as NAME-q-f32: the same
weights with the products in f32, as cospec computes them.

Usage: python3 scripts/tiny_llamacpp_reference.py DIR OUT.json
DIR holds tiny-NAME.gguf and tiny-NAME-q.gguf. Logits are written with 6 significant digits.
"""
import glob
import json
import os
import subprocess
import sys

import llama_cpp
from llama_cpp import Llama

POSITIONS = 20


def ids_for(vocab):
    # The same ids tests/tests/llamacpp_tiny.rs feeds cospec.
    return [(i * 37 + 5) % vocab for i in range(POSITIONS)]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    out = {"llama_cpp_python": llama_cpp.__version__, "positions": POSITIONS, "models": {}}
    for q in sorted(glob.glob(os.path.join(sys.argv[1], "tiny-*-q.gguf"))):
        twin = q[:-len(".gguf")] + "-f32.gguf"
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "dequantize_gguf.py"), q, twin], check=True)
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "tiny-*.gguf"))):
        name = os.path.basename(path)[len("tiny-"):-len(".gguf")]
        llm = Llama(model_path=path, n_ctx=64, n_batch=64, n_threads=2, logits_all=True, type_k=0, type_v=0,
                    flash_attn=False, verbose=False)
        ids = ids_for(llm.n_vocab())
        llm.reset()
        llm.eval(ids)
        logits = [[float(f"{v:.6g}") for v in row] for row in llm.scores[:POSITIONS].tolist()]
        out["models"][name] = {"ids": ids, "logits": logits}
        print(f"{name}: {len(ids)} positions, vocab {llm.n_vocab()}")
        del llm
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
