#!/usr/bin/env python3
"""cospec vs llama.cpp on the same GGUF and the same CPU, one after the other in one run:
decode tok/s (2 threads, greedy) and teacher-forced top-1 agreement on three ~200-token texts.
Needs `pip install llama-cpp-python` and a release build of the CLI. Prints a Markdown table.

Usage: scripts/compare_llamacpp.py MODEL.gguf [MODEL.gguf ...] [--gen 64] [--reps 3] [--lossless]

--lossless adds the agreement with llama.cpp run on the model's lossless F32 twin (every tensor
dequantized, same values; scripts/dequantize_gguf.py, cached under ~/.cache/cospec/models/f32)
with an f32 KV cache: llama.cpp then computes in f32 end to end, without the 8-bit activations
its quantized products use, so what is left is the two engines' own arithmetic.
"""
import argparse, json, os, platform, subprocess, sys, tempfile, time

TEXTS = [
    # Prose.
    "The water cycle describes how water moves between the oceans, the air and the land. "
    "Heat from the sun evaporates water from seas and lakes; the vapour rises, cools and "
    "condenses into clouds. When droplets in a cloud grow heavy enough they fall as rain or "
    "snow. Some of that water soaks into the ground and feeds springs and wells, some runs "
    "off into rivers, and some is taken up by plants and released again through their leaves. "
    "Over thousands of years the same water passes through glaciers, aquifers and living "
    "things many times. Scientists measure each part of the cycle with rain gauges, river "
    "flow meters and satellites, because changes in it affect farming, cities and the "
    "weather itself. A warmer climate speeds up evaporation, so dry places tend to get drier "
    "and wet places wetter, and storms can carry more water than before.",
    # Code.
    "def merge_sorted(a, b):\n"
    "    \"\"\"Merge two sorted lists into one sorted list.\"\"\"\n"
    "    result = []\n"
    "    i = j = 0\n"
    "    while i < len(a) and j < len(b):\n"
    "        if a[i] <= b[j]:\n"
    "            result.append(a[i])\n"
    "            i += 1\n"
    "        else:\n"
    "            result.append(b[j])\n"
    "            j += 1\n"
    "    result.extend(a[i:])\n"
    "    result.extend(b[j:])\n"
    "    return result\n\n\n"
    "def merge_sort(items):\n"
    "    if len(items) <= 1:\n"
    "        return list(items)\n"
    "    middle = len(items) // 2\n"
    "    left = merge_sort(items[:middle])\n"
    "    right = merge_sort(items[middle:])\n"
    "    return merge_sorted(left, right)\n\n\n"
    "if __name__ == \"__main__\":\n"
    "    data = [5, 3, 9, 1, 4, 8, 2, 7, 6]\n"
    "    print(merge_sort(data))\n",
    # A worked math word problem.
    "Question: A bakery sells muffins for $3 each and cookies for $1.50 each. On Monday it "
    "sold 48 muffins and twice as many cookies. On Tuesday it sold 15 fewer muffins than on "
    "Monday and 30 cookies. How much money did the bakery make over the two days?\n"
    "Answer: On Monday the bakery sold 48 muffins, which brought in 48 * 3 = $144. It sold "
    "twice as many cookies as muffins, so 48 * 2 = 96 cookies, which brought in 96 * 1.50 = "
    "$144. Monday's total was 144 + 144 = $288. On Tuesday it sold 48 - 15 = 33 muffins, "
    "which brought in 33 * 3 = $99, and 30 cookies, which brought in 30 * 1.50 = $45. "
    "Tuesday's total was 99 + 45 = $144. Over the two days the bakery made 288 + 144 = $432.\n"
    "#### 432",
]


def cospec_bin():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "target", "release", "cospec")


def llama_decode_tps(llm, gen, reps):
    prompt = "Once upon a time"
    best = []
    for _ in range(reps):
        times = {}
        for n in (8, 8 + gen):
            llm.reset()
            t = time.perf_counter()
            llm.create_completion(prompt, max_tokens=n, temperature=0.0, top_k=1)
            times[n] = time.perf_counter() - t
        best.append(gen / (times[8 + gen] - times[8]))
    best.sort()
    return best[len(best) // 2]


def cospec_decode_tps(model, gen, reps):
    out = subprocess.run([cospec_bin(), "bench", "--model", model, "--prompt-tokens", "4",
                          "--gen-tokens", str(gen), "--reps", str(reps), "--json"],
                         check=True, capture_output=True, text=True, env={**os.environ, "XDG_RUNTIME_DIR": "/tmp"})
    return json.loads(out.stdout)


def reference_top1(model, ids, llamacpp_rounding=False):
    """Top-1 per position from the plain CPU reference (tests/examples/reference_top1.rs): exact
    f32, or rounding as llama.cpp's CPU backend does."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(ids, f)
    out = subprocess.run(["cargo", "run", "--release", "-q", "-p", "cospec-tests", "--example", "reference_top1", "--", model, f.name]
                         + (["--llamacpp"] if llamacpp_rounding else []),
                         cwd=root, check=True, capture_output=True, text=True)
    os.unlink(f.name)
    return json.loads(out.stdout)["top1"]


def lossless_twin(model):
    """The F32 copy of `model` (made once; about 4 bytes per weight)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cache = os.path.join(os.environ.get("COSPEC_MODELS", os.path.expanduser("~/.cache/cospec/models")), "f32")
    os.makedirs(cache, exist_ok=True)
    twin = os.path.join(cache, os.path.basename(model)[: -len(".gguf")] + ".f32.gguf")
    if not os.path.exists(twin):
        subprocess.run([sys.executable, os.path.join(root, "scripts", "dequantize_gguf.py"), model, twin], check=True)
    return twin


def agreement(llm, model, with_reference=False, kv_type="f16"):
    """(cospec == llama.cpp, positions, cospec == f32 reference, llama.cpp == f32 reference,
    llama.cpp == the reference rounding as llama.cpp does). cospec's KV cache takes `kv_type`,
    the type of llama.cpp's."""
    same = total = ref_same = llama_ref_same = llama_emul_same = 0
    for text in TEXTS:
        # BOS where the model asks for one (Gemma), as both engines do for a prompt.
        ids = llm.tokenize(text.encode(), add_bos=True, special=False)
        llm.reset()
        llm.eval(ids)
        ref = [int(max(range(len(row)), key=row.__getitem__)) for row in llm.scores[: len(ids)].tolist()]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(ids, f)
        out = subprocess.run([cospec_bin(), "score", "--kv-type", kv_type, "--model", model, "--tokens", f.name],
                             check=True, capture_output=True, text=True, env={**os.environ, "XDG_RUNTIME_DIR": "/tmp"})
        os.unlink(f.name)
        mine = json.loads(out.stdout)["top1"]
        same += sum(a == b for a, b in zip(ref, mine))
        total += len(ids)
        if with_reference:
            exact = reference_top1(model, ids)
            ref_same += sum(a == b for a, b in zip(exact, mine))
            llama_ref_same += sum(a == b for a, b in zip(exact, ref))
            emulated = reference_top1(model, ids, llamacpp_rounding=True)
            llama_emul_same += sum(a == b for a, b in zip(emulated, ref))
    return same, total, ref_same, llama_ref_same, llama_emul_same


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-agreement", action="store_true")
    ap.add_argument("--lossless", action="store_true",
                    help="also check agreement against llama.cpp on the F32 twin with an f32 cache")
    ap.add_argument("--reference", action="store_true",
                    help="also compare both engines with the f32 CPU reference (slow: minutes for 1.5B)")
    a = ap.parse_args()
    from llama_cpp import Llama, __version__
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; llama-cpp-python {__version__}, 2 threads")
    print()
    head = "| model | cospec decode tok/s (adapter) | llama.cpp decode tok/s | ratio | top-1 agreement |"
    if a.lossless:
        head += " top-1 agreement, llama.cpp on the F32 twin |"
    if a.reference:
        head += " cospec = f32 reference | llama.cpp = f32 reference | llama.cpp = reference with llama.cpp's rounding |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for model in a.models:
        llm = Llama(model_path=model, n_threads=2, n_threads_batch=2, n_ctx=1024, logits_all=True, verbose=False)
        ref_tps = llama_decode_tps(llm, a.gen, a.reps)
        mine = cospec_decode_tps(model, a.gen, a.reps)
        agree, extra = "-", ""
        if not a.no_agreement:
            same, total, ref_same, llama_ref_same, llama_emul_same = agreement(llm, model, a.reference)
            agree = f"{same}/{total} = {100.0 * same / total:.1f}%"
            if a.reference:
                pct = lambda k: f"{k}/{total} = {100.0 * k / total:.1f}%"
                extra = f" {pct(ref_same)} | {pct(llama_ref_same)} | {pct(llama_emul_same)} |"
        del llm
        lossless = ""
        if a.lossless:
            # type 0 = GGML_TYPE_F32; flash attention off keeps the plain f32 attention path.
            twin = Llama(model_path=lossless_twin(model), n_threads=2, n_threads_batch=2, n_ctx=1024, logits_all=True,
                         type_k=0, type_v=0, flash_attn=False, verbose=False)
            same, total, *_ = agreement(twin, model, kv_type="f32")
            del twin
            lossless = f" {same}/{total} = {100.0 * same / total:.1f}% |"
        print(f"| {os.path.basename(model)} | {mine['decode_tok_per_s']:.2f} ({mine['adapter'].split(' (')[0]}) | "
              f"{ref_tps:.2f} | {mine['decode_tok_per_s'] / ref_tps:.3f} | {agree} |{lossless}{extra}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
