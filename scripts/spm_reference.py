#!/usr/bin/env python3
"""Token ids of a varied text corpus from llama.cpp's own tokenizer, the reference that
tests/tests/tokenizer.rs holds cospec's SentencePiece tokenizer to, id for id.

Usage: python3 scripts/spm_reference.py MODEL.gguf OUT.jsonl
Needs llama-cpp-python (the model is loaded vocabulary only). Writes one JSON object per line,
{"text": ..., "ids": [...]}, ids as llama_tokenize gives them with the model's BOS and special
tokens parsed (what `Tokenizer::encode` does). The corpus is made here, deterministically from
a fixed seed and the project's own files: prose and tables from README.md and docs/, code
(Rust, WGSL, Python, shell) with its indentation, multi-line chunks with blank lines, and
synthetic lines mixing accents, Greek, Cyrillic, CJK, Korean, emoji with modifiers and joiners,
numbers, runs of one character, runs of spaces, tabs and newlines, special tokens whole and
cut, and random code points (which reach the byte fallback).
"""
import glob
import json
import os
import random
import sys

from llama_cpp import Llama

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lines_of(patterns, limit, rng, keep_indent):
    files = sorted(f for p in patterns for f in glob.glob(os.path.join(ROOT, p), recursive=True))
    lines = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip("\n")
                if line.strip():
                    lines.append(line if keep_indent else line.strip())
    rng.shuffle(lines)
    return lines[:limit]


WORDS = [
    "café", "naïve", "Ærøskøbing", "Straße", "façade", "señor", "Zürich", "Łódź", "ångström", "crème brûlée",
    "Ελληνικά", "λόγος", "Привет", "мир", "東京", "日本語のテキスト", "中文分词", "漢字", "한국어", "안녕하세요",
    "🎉", "👍🏽", "👨‍👩‍👧", "🇫🇷", "😀😃", "→", "∑", "≤", "∞", "√2", "½", "™", "€100", "£5", "°C",
    "3.14159", "1,000,000", "-42", "2024-12-05", "0x1F", "1e-9", "x^2", "(a+b)", "#include", "fn main()",
    "the", "The", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Hello", "world", "don't", "it's",
    "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>", "<mask>", "<unused17>", "[multimodal]",
    "<start_of", "turn>", "<unused", "<0x41>", "▁", "▁▁", "<", ">", "</s>",
    # Runs where one merge fits at several places: the leftmost must win.
    "aaaaaaa", "========", "-------", "......", "0000000", "zzzzz", "ababab", "ーーー", "!!!!!", "ŋŋŋŋ",
]
SPACES = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", " \n", "\n ", "\r\n", "        "]


def synthetic(rng, n):
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.55:
                parts.append(rng.choice(WORDS))
            elif r < 0.85:
                parts.append(rng.choice(SPACES))
            else:
                # Any code point but surrogates, often outside the vocabulary.
                cp = rng.choice([rng.randint(0x20, 0x7E), rng.randint(0xA0, 0xFFFF), rng.randint(0x10000, 0x10FFFF)])
                if 0xD800 <= cp <= 0xDFFF:
                    cp = 0x2603
                parts.append(chr(cp))
        out.append("".join(parts))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model, out_path = sys.argv[1], sys.argv[2]
    rng = random.Random(0)
    corpus = []
    corpus += lines_of(["README.md", "docs/*.md"], 1100, rng, keep_indent=False)
    corpus += lines_of(["engine/src/**/*.rs", "shaders/**/*.wgsl", "scripts/*.py", "scripts/*.sh"], 900, rng, keep_indent=True)
    prose = lines_of(["docs/*.md"], 100000, rng, keep_indent=True)
    for _ in range(250):
        i = rng.randrange(len(prose) - 6)
        corpus.append(("\n" if rng.random() < 0.5 else "\n\n").join(prose[i:i + rng.randint(2, 6)]))
    corpus += synthetic(rng, 750)
    llm = Llama(model_path=model, vocab_only=True, verbose=False)
    with open(out_path, "w", encoding="utf-8") as out:
        for text in corpus:
            ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            out.write(json.dumps({"text": text, "ids": ids}, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{len(corpus)} texts, {sum(len(t) for t in corpus)} characters -> {out_path}")


if __name__ == "__main__":
    main()
