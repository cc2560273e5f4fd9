#!/usr/bin/env python3
"""Where llama.cpp and an exact re-doing of its rounding part ways, layer by layer.

Captures llama.cpp's residual stream after every layer (l_out-N) through the eval callback
(cb_eval), and recomputes the same forward pass in numpy with llama.cpp's CPU rounding:
RMSNorm (sum of squares in double, mean and scale in f32, x*scale then *g), activations
quantized to q8_1 per 32 values (d = amax/127 and s = d*sum(q) kept as f16, q =
round-half-even(x*127/amax)), Q4_1 x q8_1 products, ggml's f32 rope angle table, Q/K/V and
the softmax weights rounded to f16. Prints, per layer and position, the relative RMS
difference of the residual stream (docs/perf.md, "Agreement: what the 1-2% are").

Needs llama-cpp-python, gguf and numpy. Models whose layer matrices are all Q4_1 (the
SmolLM2-135M-Instruct Q4_1 file of scripts/fetch-models.sh).

Usage: scripts/llamacpp_trace.py MODEL.gguf [--tokens 6] [--text TEXT]
"""
import argparse, ctypes, sys
import numpy as np
import llama_cpp
from llama_cpp import Llama
from gguf import GGUFReader, GGMLQuantizationType
from gguf.quants import dequantize

a = argparse.ArgumentParser()
a.add_argument("model")
a.add_argument("--tokens", type=int, default=6)
a.add_argument("--text", default="The water cycle describes how water moves between the oceans, the air")
args = a.parse_args()

# --- llama.cpp's side: l_out-N of every layer through cb_eval ---------------------------
class Tensor(ctypes.Structure):  # ggml.h's struct ggml_tensor, up to the name
    _fields_ = [("type", ctypes.c_int32), ("_pad", ctypes.c_int32), ("buffer", ctypes.c_void_p),
                ("ne", ctypes.c_int64 * 4), ("nb", ctypes.c_size_t * 4), ("op", ctypes.c_int32),
                ("op_params", ctypes.c_int32 * 16), ("flags", ctypes.c_int32), ("src", ctypes.c_void_p * 10),
                ("view_src", ctypes.c_void_p), ("view_offs", ctypes.c_size_t), ("data", ctypes.c_void_p),
                ("name", ctypes.c_char * 64)]

captured = {}

@llama_cpp.ggml_backend_sched_eval_callback
def on_tensor(t, ask, _):
    tt = ctypes.cast(t, ctypes.POINTER(Tensor)).contents
    name = tt.name.decode(errors="replace")
    if ask:
        return name.startswith("l_out-")
    if name.startswith("l_out-") and tt.type == 0:
        ne, nb = list(tt.ne), list(tt.nb)
        size = max((ne[i] - 1) * nb[i] for i in range(4)) + 4
        raw = np.frombuffer((ctypes.c_uint8 * size).from_address(tt.data), dtype=np.uint8).view(np.float32)
        view = np.lib.stride_tricks.as_strided(raw, shape=(ne[1], ne[0]), strides=(nb[1], nb[0]))
        captured[name] = np.array(view, dtype=np.float32)
    return True

llm = Llama(model_path=args.model, n_ctx=256, verbose=False, vocab_only=True)
ids = llm.tokenize(args.text.encode(), add_bos=False, special=False)[: args.tokens]
n = len(ids)
p = llama_cpp.llama_context_default_params()
p.n_ctx = p.n_batch = p.n_ubatch = 256
p.n_threads = p.n_threads_batch = 2
p.cb_eval = on_tensor
p.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
full = Llama(model_path=args.model, n_ctx=256, verbose=False)
ctx = llama_cpp.llama_init_from_model(full.model, p)
batch = llama_cpp.llama_batch_init(n, 0, 1)
for i, t in enumerate(ids):
    batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = t, i, 1, 1
    batch.seq_id[i][0] = 0
batch.n_tokens = n
if llama_cpp.llama_decode(ctx, batch) != 0:
    sys.exit("llama_decode failed")

# --- the same pass in numpy with llama.cpp's rounding -----------------------------------
r = GGUFReader(args.model)
fields = {f.name: f for f in r.fields.values()}
def meta(k):
    f = fields[k]
    return f.parts[f.data[0]].tolist()[0]
arch = bytes(fields["general.architecture"].parts[fields["general.architecture"].data[0]]).decode()
tensors = {t.name: t for t in r.tensors}
H, nh, nkv = meta(f"{arch}.embedding_length"), meta(f"{arch}.attention.head_count"), meta(f"{arch}.attention.head_count_kv")
eps, theta, L = meta(f"{arch}.attention.layer_norm_rms_epsilon"), meta(f"{arch}.rope.freq_base"), meta(f"{arch}.block_count")
hd, group, halves = H // nh, nh // nkv, arch == "qwen2"
f16 = lambda v: v.astype(np.float16).astype(np.float32)

def vector(name):
    return dequantize(tensors[name].data, tensors[name].tensor_type).astype(np.float32).ravel()

def q4_1(name):
    t = tensors[name]
    if t.tensor_type != GGMLQuantizationType.Q4_1:
        sys.exit(f"{name} is {t.tensor_type.name}: this trace re-does Q4_1 products only")
    raw = np.asarray(t.data).view(np.uint8).reshape(-1, 20)
    rows = int(t.shape.tolist()[1])
    d = raw[:, 0:2].copy().view(np.float16).astype(np.float32).reshape(rows, -1)
    m = raw[:, 2:4].copy().view(np.float16).astype(np.float32).reshape(rows, -1)
    q = np.concatenate([raw[:, 4:20] & 15, raw[:, 4:20] >> 4], 1).astype(np.float32).reshape(rows, -1, 32)
    return d, m, q

def q8_1(x):
    b = x.reshape(-1, 32).astype(np.float32)
    amax = np.abs(b).max(1)
    inv = np.where(amax == 0, 0, np.float32(127) / np.where(amax == 0, 1, amax)).astype(np.float32)
    q = np.round((b * inv[:, None]).astype(np.float32))
    d = (amax / np.float32(127)).astype(np.float32)
    return f16(d), q, f16((d * q.sum(1)).astype(np.float32))

def matvec(name, x):
    d4, m4, q4 = q4_1(name)
    out = []
    for row in x:
        d8, q8, s8 = q8_1(row)
        out.append(((d4 * d8[None]) * (q4 * q8[None]).sum(2) + m4 * s8[None]).sum(1))
    return np.array(out, np.float32)

def rmsnorm(x, g):
    mean = ((x.astype(np.float64) ** 2).sum(-1, keepdims=True) / x.shape[-1]).astype(np.float32)
    scale = (np.float32(1) / np.sqrt((mean + np.float32(eps)).astype(np.float32))).astype(np.float32)
    return ((x * scale).astype(np.float32) * g).astype(np.float32)

def rope(v, heads):
    v = v.reshape(n, heads, hd).copy()
    step = np.float32(np.power(np.float32(theta), np.float32(-2.0) / np.float32(hd)))
    for pos in range(n):
        angle = np.float32(pos)
        for i in range(hd // 2):
            c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
            i0, i1 = (i, i + hd // 2) if halves else (2 * i, 2 * i + 1)
            x0, x1 = v[pos, :, i0].copy(), v[pos, :, i1].copy()
            v[pos, :, i0], v[pos, :, i1] = x0 * c - x1 * s, x0 * s + x1 * c
            angle = np.float32(angle * step)
    return v

emb = tensors["token_embd.weight"]
x = dequantize(emb.data, emb.tensor_type).reshape(-1, H)[ids].astype(np.float32)
print(f"{args.model}: {n} tokens {ids}; relative RMS difference of l_out per position")
for l in range(L):
    xn = rmsnorm(x, vector(f"blk.{l}.attn_norm.weight"))
    q, k = rope(matvec(f"blk.{l}.attn_q.weight", xn), nh), rope(matvec(f"blk.{l}.attn_k.weight", xn), nkv)
    v = matvec(f"blk.{l}.attn_v.weight", xn).reshape(n, nkv, hd)
    att = np.zeros((n, nh, hd), np.float32)
    for pos in range(n):
        for h in range(nh):
            z = ((f16(k[: pos + 1, h // group]) @ f16(q[pos, h])) * np.float32(1 / np.sqrt(hd))).astype(np.float32)
            e = np.exp(z - z.max()).astype(np.float32)
            w = (e * np.float32(1.0 / e.astype(np.float64).sum())).astype(np.float32)
            att[pos, h] = f16(w) @ f16(v[: pos + 1, h // group])
    x = (x + matvec(f"blk.{l}.attn_output.weight", att.reshape(n, -1))).astype(np.float32)
    xn = rmsnorm(x, vector(f"blk.{l}.ffn_norm.weight"))
    gate, up = matvec(f"blk.{l}.ffn_gate.weight", xn), matvec(f"blk.{l}.ffn_up.weight", xn)
    x = (x + matvec(f"blk.{l}.ffn_down.weight", (gate / (1 + np.exp(-gate)) * up).astype(np.float32))).astype(np.float32)
    theirs = captured[f"l_out-{l}"]
    errs = [np.sqrt(((theirs[i] - x[i]) ** 2).mean() / (x[i] ** 2).mean()) for i in range(n)]
    print(f"layer {l:2d}  " + "  ".join(f"{e:.1e}" for e in errs))
