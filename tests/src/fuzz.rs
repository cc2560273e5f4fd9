//! Fuzz targets: every parser of untrusted bytes, each a function of one input that must
//! return (an error is fine) without panicking, hanging or allocating beyond what the input
//! justifies. `fuzz/` runs them coverage-guided under libFuzzer (scripts/fuzz.sh);
//! `mutate` and `run_mutations` run them without instrumentation, seeded, for CI
//! (tests/tests/fuzz_smoke.rs).

use cospec::decode::arbiter::Mlp;
use cospec_eval::{grading, jsonl, problems, rollouts::Rollout};
use cospec::formats::ModelFile;
use cospec::model::ModelConfig;
use cospec::platform::blob_from_vec;
use cospec::tokenizer::{ChatMessage, Tokenizer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Texts every tokenizer target encodes: code, accents, emoji, CJK, runs of spaces and
/// newlines, and text that looks like special tokens.
const SAMPLE_TEXTS: [&str; 3] = ["Hello,  world!\n\n\tdef f(x): return x**2 # ünïcödé 😀 日本語", "<|im_start|>user\n1+1=?<|im_end|>", "    \r\n  "];

/// A GGUF file: header, metadata, tensor infos, then what the engine derives from them (the
/// model's configuration and the tokenizer built from metadata).
pub fn gguf(data: &[u8]) {
    let Ok(f) = ModelFile::from_gguf(blob_from_vec(data.to_vec())) else { return };
    let _ = ModelConfig::from_file(&f);
    let _ = f.type_histogram();
    for name in f.tensors.keys().take(4).cloned().collect::<Vec<_>>() {
        let _ = f.tensor_bytes(&name);
    }
    if let Ok(t) = Tokenizer::from_gguf(&f) {
        exercise(&t);
    }
}

/// An HF folder: config.json and one safetensors file, split at the first NUL byte.
pub fn hf(data: &[u8]) {
    let (config, weights) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(config) = std::str::from_utf8(config) else { return };
    if let Ok(f) = ModelFile::from_hf_parts(config, None, None, vec![blob_from_vec(weights.to_vec())]) {
        let _ = ModelConfig::from_file(&f);
        for name in f.tensors.keys().take(4).cloned().collect::<Vec<_>>() {
            let _ = f.tensor_bytes(&name);
        }
    }
}

/// tokenizer.json text, then encoding and decoding with what it built.
pub fn tokenizer_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(t) = Tokenizer::from_json(text) {
        exercise(&t);
    }
}

fn exercise(t: &Tokenizer) {
    for text in SAMPLE_TEXTS {
        if let Ok(ids) = t.encode(text) {
            let _ = t.decode(&ids, false);
        }
    }
    let _ = t.apply_chat_template(&[ChatMessage::new("user", "hi")], true);
}

/// A chat template (first line: the template; the rest: message contents).
pub fn chat_template(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (source, rest) = text.split_once('\n').unwrap_or((text, ""));
    let messages: Vec<ChatMessage> = rest.lines().enumerate().map(|(i, l)| ChatMessage::new(["system", "user", "assistant"][i % 3], l)).collect();
    let _ = cospec::chat_template::render(source, &messages, true, "<s>", "</s>");
}

/// A learned arbiter's safetensors file.
pub fn arbiter(data: &[u8]) {
    if let Ok(m) = Mlp::from_safetensors(data) {
        let _ = m.gpu_words();
    }
}

/// The math problems JSONL and the answers graded from model text.
pub fn problems(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = problems::parse(text);
    let _ = grading::extract_answer(text);
    let _ = grading::is_correct(text, "42");
}

/// The rollouts JSONL (append-only, torn lines skipped).
pub fn rollouts(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let loaded = jsonl::parse::<Rollout>(&text);
    for r in loaded.items.iter().take(8) {
        let _ = r.sample();
    }
}

pub type Target = fn(&[u8]);

/// Every target by name (the names of fuzz/fuzz_targets/*.rs and fuzz/corpus/*).
pub const TARGETS: [(&str, Target); 7] = [
    ("gguf", gguf),
    ("hf", hf),
    ("tokenizer_json", tokenizer_json),
    ("chat_template", chat_template),
    ("arbiter", arbiter),
    ("problems", problems),
    ("rollouts", rollouts),
];

/// Values that break length and offset arithmetic, written over 8, 4 or 1 bytes.
const INTERESTING: [u64; 10] = [0, 1, 2, 0x7f, 0xff, 0x7fff_ffff, 0xffff_ffff, 0x8000_0000_0000_0000, u64::MAX, 1 << 40];

/// One mutation of `seed` (several edits: bit flips, interesting integers, byte runs
/// inserted, deleted or duplicated, a splice from `other`, truncation).
pub fn mutate(rng: &mut StdRng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = d.len();
        match rng.random_range(0..8) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                d[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let v = INTERESTING[rng.random_range(0..INTERESTING.len())];
                let width = [1, 4, 8][rng.random_range(0..3)];
                let i = rng.random_range(0..len);
                for (k, b) in v.to_le_bytes().iter().take(width).enumerate() {
                    if i + k < len {
                        d[i + k] = *b;
                    }
                }
            }
            2 => {
                let i = rng.random_range(0..=len);
                let n = rng.random_range(1..=16);
                let byte: u8 = rng.random();
                d.splice(i..i, std::iter::repeat_n(byte, n));
            }
            3 if len > 0 => {
                let i = rng.random_range(0..len);
                let n = rng.random_range(1..=(len - i).min(64));
                d.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.random_range(0..len);
                let n = rng.random_range(1..=(len - i).min(64));
                let chunk = d[i..i + n].to_vec();
                let at = rng.random_range(0..=len);
                d.splice(at..at, chunk);
            }
            5 if !other.is_empty() => {
                let i = rng.random_range(0..other.len());
                let n = rng.random_range(1..=(other.len() - i).min(256));
                let at = rng.random_range(0..=len);
                d.splice(at..at, other[i..i + n].iter().copied());
            }
            6 if len > 0 => d.truncate(rng.random_range(0..len)),
            _ if len > 0 => {
                let i = rng.random_range(0..len);
                d[i] = rng.random();
            }
            _ => d.push(rng.random()),
        }
    }
    d
}

/// What a mutation run found.
#[derive(Debug, Default)]
pub struct Found {
    pub executions: u64,
    /// Inputs that panicked, with the panic message.
    pub crashes: Vec<(Vec<u8>, String)>,
    /// Inputs that took longer than the slow limit, with their time.
    pub slow: Vec<(Vec<u8>, f64)>,
}

/// Runs `target` on every seed and then on mutations of them until `executions` runs or
/// `seconds` pass, whichever comes first. A panic is caught and recorded, as is any input
/// slower than `slow_secs`.
pub fn run_mutations(target: Target, corpus: &[Vec<u8>], seed: u64, executions: u64, seconds: f64, slow_secs: f64) -> Found {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut found = Found::default();
    let t0 = std::time::Instant::now();
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut i = 0u64;
    while found.executions < executions && t0.elapsed().as_secs_f64() < seconds {
        let input = if (i as usize) < corpus.len() {
            corpus[i as usize].clone()
        } else {
            let a = &corpus[rng.random_range(0..corpus.len())];
            let b = &corpus[rng.random_range(0..corpus.len())];
            mutate(&mut rng, a, b)
        };
        i += 1;
        let t = std::time::Instant::now();
        let result = std::panic::catch_unwind(|| target(&input));
        let took = t.elapsed().as_secs_f64();
        found.executions += 1;
        if let Err(p) = result {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            found.crashes.push((input, msg));
        } else if took > slow_secs {
            found.slow.push((input, took));
        }
    }
    std::panic::set_hook(prev_hook);
    found
}

/// The committed seed corpus of a target (fuzz/corpus/NAME).
pub fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}
