#!/usr/bin/env python3
"""Load test for any OpenAI-compatible server (cospec serve, llama.cpp's llama-server,
llama-cpp-python's server): C clients at once, each sending streamed chat requests one after
another, for each C given. Prints a Markdown row per C: total completion tokens per second of
wall time, and p50/p95 time to first token and time per output token (after the first).
Standard library only.

Usage: scripts/bench_serve.py URL [--clients 1,4,8,16] [--requests 2] [--max-tokens 64]
       [--model NAME] [--extra JSON] [--label TEXT]
URL is the server's base, e.g. http://127.0.0.1:8080 (the /v1 paths are added).
--extra merges a JSON object into every request, e.g. '{"cospec": {"mode": "spd"}}'.
"""
import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse

QUESTIONS = [
    "What is the capital of France?",
    "Name three primary colours.",
    "Write a haiku about the sea.",
    "Explain what a prime number is.",
    "Give me a Python function that reverses a string.",
    "Why is the sky blue?",
    "List four planets of the solar system.",
    "What does a compiler do?",
    "Suggest a name for a grey cat.",
    "How many legs does a spider have?",
    "Translate 'good morning' into Spanish.",
    "What is 12 times 12?",
    "Describe a rainbow in one sentence.",
    "What is the boiling point of water?",
    "Write a short greeting for a birthday card.",
    "What are clouds made of?",
]


def one_request(url, body):
    """Sends one streamed chat request; returns (ttft, tpot or None, completion tokens)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    first = last = None
    chunks = 0
    usage = None
    for raw in resp:
        line = raw.decode().strip()
        if not line.startswith("data: "):
            continue
        data = line[len("data: "):]
        if data == "[DONE]":
            break
        v = json.loads(data)
        if v.get("usage"):
            usage = v["usage"]
        for c in v.get("choices", []):
            if c.get("delta", {}).get("content"):
                now = time.perf_counter()
                first = first if first is not None else now
                last = now
                chunks += 1
    conn.close()
    tokens = usage["completion_tokens"] if usage else chunks
    if first is None:
        return None, None, tokens
    tpot = (last - first) / (tokens - 1) if tokens > 1 else None
    return first - t0, tpot, tokens


def percentile(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def run(url, clients, requests, max_tokens, model, extra):
    results, errors = [], []
    lock = threading.Lock()

    def client(i):
        for r in range(requests):
            q = QUESTIONS[(i * requests + r) % len(QUESTIONS)]
            body = {"messages": [{"role": "user", "content": q}], "max_tokens": max_tokens, "temperature": 0,
                    "stream": True, "stream_options": {"include_usage": True}}
            if model:
                body["model"] = model
            body.update(extra)
            try:
                res = one_request(url, body)
                with lock:
                    results.append(res)
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(str(e))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    tokens = sum(r[2] for r in results)
    ttft = [r[0] for r in results if r[0] is not None]
    tpot = [r[1] for r in results if r[1] is not None]
    return {"clients": clients, "requests": len(results), "errors": len(errors), "tokens": tokens, "wall_s": wall,
            "tok_per_s": tokens / wall, "ttft_p50": percentile(ttft, 0.5), "ttft_p95": percentile(ttft, 0.95),
            "tpot_p50": percentile(tpot, 0.5), "tpot_p95": percentile(tpot, 0.95), "first_error": errors[0] if errors else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--clients", default="1,4,8,16")
    ap.add_argument("--requests", type=int, default=2, help="requests per client, one after another")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--model", default=None)
    ap.add_argument("--extra", default="{}")
    ap.add_argument("--label", default="")
    ap.add_argument("--json", action="store_true", help="one JSON line per row instead of Markdown")
    a = ap.parse_args()
    extra = json.loads(a.extra)
    if not a.json:
        print("| server | clients | requests | tok/s (all clients) | TTFT p50 / p95 (s) | per token p50 / p95 (ms) |")
        print("|---|---|---|---|---|---|")
    for c in [int(x) for x in a.clients.split(",")]:
        r = run(a.url.rstrip("/"), c, a.requests, a.max_tokens, a.model, extra)
        r["label"] = a.label
        if a.json:
            print(json.dumps(r), flush=True)
            continue
        err = f" ({r['errors']} errors: {r['first_error']})" if r["errors"] else ""
        print(f"| {a.label} | {c} | {r['requests']}{err} | {r['tok_per_s']:.1f} | {r['ttft_p50']:.2f} / {r['ttft_p95']:.2f} | "
              f"{1000 * r['tpot_p50']:.0f} / {1000 * r['tpot_p95']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
