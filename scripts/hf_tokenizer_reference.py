#!/usr/bin/env python3
"""SentencePiece-kind tokenizer.json files and their ids, from the `tokenizers` Python package:
the reference tests/tests/tokenizer.rs holds cospec's HF tokenizer path to.

Two tokenizers are trained on the texts of tests/data/spm_gemma3_llamacpp.jsonl (prose, code,
CJK, emoji, runs of whitespace, specials, random code points), each in the layout HF ships:
- BPE with byte fallback and the ▁ space marker put in by the normalizer (Llama 2, Mistral,
  TinyLlama): unknown characters become <0xNN> byte tokens;
- Unigram behind a Metaspace pre-tokenizer (T5, ALBERT, XLNet).
Beside each tokenizer, one line per text (in the corpus's order): its ids (no special tokens
added), and its decoding where that is not the text itself (normalization, whitespace).

Usage: python3 scripts/hf_tokenizer_reference.py [OUT_DIR]   (default tests/data)
"""
import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BYTES = [f"<0x{b:02X}>" for b in range(256)]


def texts():
    with open(os.path.join(ROOT, "tests", "data", "spm_gemma3_llamacpp.jsonl")) as f:
        return [json.loads(line)["text"] for line in f]


def bpe_byte_fallback(corpus):
    t = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=["<unk>", "<s>", "</s>"] + BYTES, limit_alphabet=300)
    t.train_from_iterator(corpus, trainer)
    doc = json.loads(t.to_str())
    # Byte tokens belong to the model's vocabulary, as in Llama 2's file, not to added tokens
    # (which would match their literal text).
    doc["added_tokens"] = [a for a in doc["added_tokens"] if a["content"] not in BYTES]
    return Tokenizer.from_str(json.dumps(doc))


def unigram_metaspace(corpus):
    t = Tokenizer(models.Unigram())
    t.normalizer = normalizers.NFKC()
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    t.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=1200, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    t.train_from_iterator(corpus, trainer)
    return t


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "data")
    corpus = texts()
    for name, build in [("hf_spm_bpe", bpe_byte_fallback), ("hf_unigram", unigram_metaspace)]:
        t = build(corpus)
        t.save(os.path.join(out, f"{name}.tokenizer.json"))
        with open(os.path.join(out, f"{name}.ids.jsonl"), "w") as f:
            for text in corpus:
                ids = t.encode(text, add_special_tokens=False).ids
                row = {"ids": ids}
                decoded = t.decode(ids, skip_special_tokens=False)
                if decoded != text:
                    row["decoded"] = decoded
                f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"{name}: vocabulary {t.get_vocab_size()}, {len(corpus)} texts (tokenizers {tokenizers.__version__})")


if __name__ == "__main__":
    main()
