//! The real models of MODELS.md (fetched by scripts/fetch-models.sh; CI sets
//! COSPEC_REQUIRE_MODELS=1 so a missing file fails instead of skipping). The Qwen GPU tests
//! upload 1.6 GB and run only with COSPEC_LARGE_TESTS=1.

use cospec::decode::{generate, GenerateOptions};
use cospec::model::{KvType, LoadOptions, LogitsRows, Model};
use cospec::tokenizer::{ChatMessage, Tokenizer};
use cospec_tests::reference::RefModel;
use cospec_tests::{gpu, real_model, rel_err};

const SMOLLM2: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

fn large_tests() -> bool {
    let on = std::env::var("COSPEC_LARGE_TESTS").as_deref() == Ok("1");
    if !on {
        eprintln!("skipping: set COSPEC_LARGE_TESTS=1 to run the Qwen GPU tests");
    }
    on
}

fn load(path: &std::path::Path) -> (cospec::formats::ModelFile, Model, Tokenizer) {
    load_kv(path, None)
}

fn load_kv(path: &std::path::Path, kv_type: Option<KvType>) -> (cospec::formats::ModelFile, Model, Tokenizer) {
    let f = cospec::platform::open_model(path).unwrap();
    let m = Model::load(gpu(), &f, &LoadOptions { ctx_len: 512, max_block: 32, kv_type }, &mut |_, _| {}).unwrap();
    let t = Tokenizer::from_model_file(&f).unwrap();
    (f, m, t)
}

fn check_logits_against_reference(name: &str, prompt: &str) {
    let Some(path) = real_model(name) else { return };
    let (f, mut model, tok) = load_kv(&path, Some(KvType::F32));
    let ids = tok.encode(prompt).unwrap();
    let got = pollster::block_on(model.forward(&ids, LogitsRows::All)).unwrap();
    let want = RefModel::new(&f).forward(&ids);
    let vocab = model.config.vocab;
    for (pos, w) in want.iter().enumerate() {
        let e = rel_err(&got[pos * vocab..(pos + 1) * vocab], w);
        assert!(e < 1e-3, "{name}: position {pos} rel err {e}");
    }
}

#[test]
fn smollm2_gpu_logits_match_cpu_reference() {
    check_logits_against_reference(SMOLLM2, "The capital of France is");
}

#[test]
fn smollm2_greedy_says_paris() {
    let Some(path) = real_model(SMOLLM2) else { return };
    let (_, mut model, tok) = load(&path);
    let ids = tok.encode("The capital of France is").unwrap();
    let out = pollster::block_on(generate(&mut model, &tok, &ids, &GenerateOptions { max_tokens: 8, ..Default::default() }, &mut |_| {})).unwrap();
    assert!(out.text.contains("Paris"), "continuation: {:?}", out.text);
}

/// A long text of the project's own prose (a frozen copy of an earlier docs/design.md): frozen
/// so that editing the docs cannot change what these tests decode. Whether a model copies a
/// passage exactly depends on the passage (the 4,096-token copy below holds on this one).
const LONG_PROSE: &str = include_str!("../data/long_prose.md");

/// The f16 KV cache (GPUs' default) against the f32 one over 300 positions of text: the same
/// top-1 token nearly everywhere (a near-tie may flip), logits within f16's rounding
/// (measured on llvmpipe: 300/300, worst relative error 1.2e-3).
#[test]
fn smollm2_f16_cache_stays_within_rounding_of_the_f32_cache() {
    let Some(path) = real_model(SMOLLM2) else { return };
    // About 1,500 bytes of prose, cut on a character boundary whatever the document holds.
    let doc = LONG_PROSE;
    let text = &doc[..(0..=1500).rev().find(|&n| doc.is_char_boundary(n)).unwrap_or(0)];
    let mut logits = Vec::new();
    for kv_type in [KvType::F32, KvType::F16] {
        let (_, mut model, tok) = load_kv(&path, Some(kv_type));
        let ids = tok.encode(text).unwrap();
        // Only the first 300 tokens are used: the docs may tokenize denser or sparser over time.
        assert!(ids.len() >= 300, "{} tokens", ids.len());
        logits.push((pollster::block_on(model.forward(&ids[..300], LogitsRows::All)).unwrap(), model.config.vocab));
    }
    let ((f32s, vocab), (f16s, _)) = (&logits[0], &logits[1]);
    let argmax = |row: &[f32]| row.iter().enumerate().fold(0, |b, (i, v)| if *v > row[b] { i } else { b });
    let (mut worst, mut same) = (0f32, 0);
    for (a, b) in f32s.chunks(*vocab).zip(f16s.chunks(*vocab)) {
        worst = worst.max(rel_err(b, a));
        same += (argmax(a) == argmax(b)) as usize;
    }
    eprintln!("f16 against f32 cache: worst relative error {worst}, top-1 {same}/300");
    assert!(worst < 1e-2 && same >= 297, "f16 against f32 cache: worst relative error {worst}, top-1 {same}/300");
}

/// A 4,096-token prompt end to end in an f16 cache (GPUs' default): 2,048 tokens of
/// LONG_PROSE, then the same tokens again up to 16 before their end. Greedy decoding must
/// go on copying them, which it can only do by attending 2,000 positions back to their first
/// occurrence.
#[test]
fn smollm2_copies_across_a_4096_token_prompt() {
    let Some(path) = real_model(SMOLLM2) else { return };
    let f = cospec::platform::open_model(&path).unwrap();
    let mut model = Model::load(gpu(), &f, &LoadOptions { ctx_len: 4096, kv_type: Some(KvType::F16), ..Default::default() }, &mut |_, _| {}).unwrap();
    let tok = Tokenizer::from_model_file(&f).unwrap();
    let ids = tok.encode(LONG_PROSE).unwrap();
    let (half, tail) = (2048, 16);
    assert!(ids.len() >= half, "docs/design.md is {} tokens", ids.len());
    let text = &ids[..half];
    let prompt: Vec<u32> = text.iter().chain(&text[..half - tail]).copied().collect();
    let opts = GenerateOptions { max_tokens: tail, ..Default::default() };
    let out = pollster::block_on(generate(&mut model, &tok, &prompt, &opts, &mut |_| {})).unwrap();
    assert_eq!(model.len(), prompt.len() + tail - 1, "{} tokens in the cache", model.len());
    assert_eq!(out.tokens, text[half - tail..], "continuation {:?}", out.text);
}

#[test]
fn qwen_draft_gpu_logits_match_cpu_reference() {
    if !large_tests() {
        return;
    }
    check_logits_against_reference("qwen2.5-coder-0.5b-instruct.gguf", "def add(a, b):");
}

#[test]
fn qwen_pair_load_and_answer_in_chat() {
    if !large_tests() {
        return;
    }
    for name in ["qwen2.5-coder-0.5b-instruct.gguf", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"] {
        let Some(path) = real_model(name) else { return };
        let (_, mut model, tok) = load(&path);
        let prompt = tok.apply_chat_template(&[ChatMessage::new("user", "What is 7 times 6? Answer with the number only.")], true).unwrap();
        let ids = tok.encode(&prompt).unwrap();
        let out = pollster::block_on(generate(&mut model, &tok, &ids, &GenerateOptions { max_tokens: 6, ..Default::default() }, &mut |_| {})).unwrap();
        assert!(out.text.contains("42"), "{name}: {:?}", out.text);
    }
}

#[test]
fn smollm2_as_its_own_draft_is_accepted_everywhere_and_lossless() {
    use cospec::decode::{Mode, SpecOptions, SpecSession};
    let Some(path) = real_model(SMOLLM2) else { return };
    let (_, draft, tok) = load(&path);
    let (_, target, _) = load(&path);
    let mut s = SpecSession::new(draft, target, 6).unwrap();
    let ids = tok.encode("The capital of France is").unwrap();
    let opts = |mode, k| SpecOptions { mode, k, max_tokens: 40, stop_at_eos: false, ..Default::default() };
    let reference = pollster::block_on(s.generate(&tok, &ids, &opts(Mode::TargetOnly, 1), &mut |_, _| {})).unwrap();
    for k in [1, 3, 6] {
        let out = pollster::block_on(s.generate(&tok, &ids, &opts(Mode::Spd, k), &mut |_, _| {})).unwrap();
        assert_eq!(out.tokens, reference.tokens, "k = {k}");
        assert_eq!(out.stats.mismatches, 0, "k = {k}: a model must agree with itself");
        assert_eq!(out.stats.origins.target, 0);
        // Every full step commits k + 1 tokens; only the last may be cut by the budget.
        assert_eq!(out.stats.target_passes, 40usize.div_ceil(k + 1), "k = {k}");
    }
}

#[test]
fn qwen_pair_speculative_decoding_is_lossless() {
    use cospec::decode::{Mode, SpecOptions, SpecSession};
    if !large_tests() {
        return;
    }
    let (Some(dp), Some(tp)) = (real_model("qwen2.5-coder-0.5b-instruct.gguf"), real_model("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")) else {
        return;
    };
    let (_, draft, dtok) = load(&dp);
    let (_, target, tok) = load(&tp);
    assert!(tok.vocabulary_difference(&dtok).is_none());
    let mut s = SpecSession::new(draft, target, 4).unwrap();
    let prompt = tok.apply_chat_template(&[ChatMessage::new("user", "Tom has 3 boxes of 12 apples and eats 5. How many apples are left?")], true).unwrap();
    let ids = tok.encode(&prompt).unwrap();
    let opts = |mode| SpecOptions { mode, k: 4, max_tokens: 48, stop_at_eos: false, ..Default::default() };
    let reference = pollster::block_on(s.generate(&tok, &ids, &opts(Mode::TargetOnly), &mut |_, _| {})).unwrap();
    let out = pollster::block_on(s.generate(&tok, &ids, &opts(Mode::Spd), &mut |_, _| {})).unwrap();
    assert_eq!(out.tokens, reference.tokens);
    assert!(out.stats.tokens_per_target_pass() > 1.5, "{:?}", out.stats);
}
