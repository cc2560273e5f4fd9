//! How tokenizing scales with hostile text: one repeated character, spaces, newlines, CJK and
//! invalid UTF-8 (lossily decoded, as a request body would be refused before this), at 64 KiB
//! and 1 MiB, with the SmolLM2 and Qwen2.5 tokenizers. Prints time per size and the ratio
//! (16x the text should cost about 16x, not 256x).
//! `cargo run --release -p cospec-tests --example tokenize_scaling`

use cospec::tokenizer::Tokenizer;
use std::time::Instant;

fn main() {
    for name in ["SmolLM2-135M-Instruct.Q4_1.gguf", "qwen2.5-coder-0.5b-instruct.gguf"] {
        let Some(p) = cospec_tests::real_model(name) else { continue };
        let tok = Tokenizer::from_model_file(&cospec::platform::open_model(&p).unwrap()).unwrap();
        let invalid: Vec<u8> = (0..(1 << 20)).map(|i| [0xff, 0xc3, 0x28, 0xe2, 0x82][i % 5]).collect();
        let kinds: [(&str, String); 5] = [
            ("'a' repeated", "a".repeat(1 << 20)),
            ("spaces", " ".repeat(1 << 20)),
            ("newlines", "\n".repeat(1 << 20)),
            ("CJK", "日".repeat(1 << 18)),
            ("invalid UTF-8, lossy", String::from_utf8_lossy(&invalid).into_owned()),
        ];
        for (kind, text) in kinds {
            let mut small_end = text.len() / 16;
            while !text.is_char_boundary(small_end) {
                small_end += 1;
            }
            let time = |t: &str| {
                let t0 = Instant::now();
                let n = tok.encode(t).unwrap().len();
                (t0.elapsed().as_secs_f64(), n)
            };
            let (a, na) = time(&text[..small_end]);
            let (b, nb) = time(&text);
            println!("{name}: {kind}: {} B -> {na} tokens in {a:.3} s; {} B -> {nb} tokens in {b:.3} s; x{:.1}", small_end, text.len(), b / a);
        }
    }
}
