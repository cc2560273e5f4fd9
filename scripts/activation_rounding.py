#!/usr/bin/env python3
"""Why llama.cpp's logits for the quantized tiny models differ from cospec's: a plain numpy
forward of tiny-{llama,qwen2,qwen3}-q.gguf (weights dequantized by the `gguf` package), once in
f32 and once rounding each quantized product's input as llama.cpp's CPU backend does (Q8_0,
blocks of 32, for the 32-element types; Q8_K, blocks of 256, for K-quants), each compared with
llama.cpp's logits (tests/data/tiny_llamacpp_logits.json, scripts/tiny_llamacpp_reference.py).
With the rounding it gives llama.cpp's logits for the quantized files; in f32, llama.cpp's for
their F32 twins: the gap is that rounding and nothing else.

Usage: python3 scripts/activation_rounding.py DIR [REFERENCE.json]
DIR holds the files `cargo run -p cospec-tests --example tiny_models -- DIR --quantized` writes.
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGUFReader
from gguf.quants import dequantize

POSITIONS = 20


def q8_round(x, block):
    """x as llama.cpp's quantize_row_q8_0 (block 32) or quantize_row_q8_K (block 256) leaves it."""
    y = x.reshape(-1, block).astype(np.float32)
    amax = np.abs(y).max(axis=1, keepdims=True)
    if block == 256:
        # q8_K: the scale from the signed value of largest magnitude, -127 / max.
        mx = y[np.arange(len(y)), np.abs(y).argmax(axis=1)][:, None]
        iscale = np.where(amax > 0, -127.0 / np.where(mx == 0, 1, mx), 0).astype(np.float32)
        q = np.minimum(127, np.round(iscale * y))
        d = np.where(amax > 0, 1 / np.where(iscale == 0, 1, iscale), 0).astype(np.float32)
        return (q * d).reshape(x.shape).astype(np.float32)
    # q8_0: scale amax / 127, stored as f16.
    d = (amax / 127).astype(np.float32)
    q = np.round(np.where(d > 0, y / np.where(d == 0, 1, d), 0))
    return (q * d.astype(np.float16).astype(np.float32)).reshape(x.shape).astype(np.float32)


def forward(path, rounding):
    """Teacher-forced logits over the ids the tests use (llama, qwen2, qwen3)."""
    r = GGUFReader(path)
    f = {k: r.fields[k] for k in r.fields}

    def val(k):
        fld = f[k]
        v = fld.parts[fld.data[0]]
        return v.tolist()[0] if len(v) == 1 else bytes(v).decode()

    arch = val("general.architecture")
    L = val(f"{arch}.block_count")
    H = val(f"{arch}.embedding_length")
    nh = val(f"{arch}.attention.head_count")
    nkv = val(f"{arch}.attention.head_count_kv")
    eps = val(f"{arch}.attention.layer_norm_rms_epsilon")
    theta = val(f"{arch}.rope.freq_base")
    hd = val(f"{arch}.attention.key_length") if f"{arch}.attention.key_length" in f else H // nh
    W = {}
    T = {}
    for t in r.tensors:
        W[t.name] = dequantize(t.data, t.tensor_type).reshape([int(x) for x in reversed(t.shape)]).astype(np.float32)
        T[t.name] = t.tensor_type
    vocab = W["token_embd.weight"].shape[0]
    ids = [(i * 37 + 5) % vocab for i in range(POSITIONS)]
    n = len(ids)

    def mm(x, name):
        w = W[name]
        t = T[name]
        if rounding and t not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            blk = 256 if t.name.endswith("_K") else 32
            x = q8_round(x, blk)
        return x @ w.T

    def norm(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g

    def rope(x, neox):  # x: n, heads, hd
        pos = np.arange(n)[:, None]
        inv = theta ** (-np.arange(0, hd, 2) / hd)
        ang = pos * inv[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        if neox:
            a, b = x[..., : hd // 2], x[..., hd // 2:]
            return np.concatenate([a * c - b * s, a * s + b * c], -1)
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out

    neox = arch != "llama"
    x = W["token_embd.weight"][ids]
    for l in range(L):
        p = f"blk.{l}."
        h = norm(x, W[p + "attn_norm.weight"])
        q = mm(h, p + "attn_q.weight")
        k = mm(h, p + "attn_k.weight")
        v = mm(h, p + "attn_v.weight")
        if p + "attn_q.bias" in W:
            q, k, v = q + W[p + "attn_q.bias"], k + W[p + "attn_k.bias"], v + W[p + "attn_v.bias"]
        q, k, v = q.reshape(n, nh, hd), k.reshape(n, nkv, hd), v.reshape(n, nkv, hd)
        if p + "attn_q_norm.weight" in W:
            q, k = norm(q, W[p + "attn_q_norm.weight"]), norm(k, W[p + "attn_k_norm.weight"])
        q, k = rope(q, neox), rope(k, neox)
        g = nh // nkv
        out = np.zeros((n, nh, hd), np.float32)
        mask = np.triu(np.full((n, n), -np.inf), 1)
        for hh in range(nh):
            s = q[:, hh] @ k[:, hh // g].T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            out[:, hh] = s @ v[:, hh // g]
        x = x + mm(out.reshape(n, nh * hd), p + "attn_output.weight")
        h = norm(x, W[p + "ffn_norm.weight"])
        gt = mm(h, p + "ffn_gate.weight")
        up = mm(h, p + "ffn_up.weight")
        x = x + mm(gt / (1 + np.exp(-gt)) * up, p + "ffn_down.weight")
    x = norm(x, W["output_norm.weight"])
    logits = mm(x, "output.weight" if "output.weight" in W else "token_embd.weight")
    return ids, logits


def worst_rel(got, want):
    return max(np.linalg.norm(g - w) / np.linalg.norm(w) for g, w in zip(got, want))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    ref_path = sys.argv[2] if len(sys.argv) == 3 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "tiny_llamacpp_logits.json")
    ref = json.load(open(ref_path))["models"]
    print("worst relative error over the positions, numpy against llama.cpp")
    print(f"{'model':10} {'f32 vs F32 twin':>16} {'rounded vs file':>16} {'f32 vs file':>12}")
    for name in ["llama-q", "qwen2-q", "qwen3-q"]:
        path = os.path.join(sys.argv[1], f"tiny-{name}.gguf")
        ids, plain = forward(path, False)
        _, rounded = forward(path, True)
        assert ids == ref[name]["ids"]
        file, twin = np.array(ref[name]["logits"]), np.array(ref[name + "-f32"]["logits"])
        print(f"{name:10} {worst_rel(plain, twin):16.2e} {worst_rel(rounded, file):16.2e} {worst_rel(plain, file):12.2e}")


if __name__ == "__main__":
    main()
