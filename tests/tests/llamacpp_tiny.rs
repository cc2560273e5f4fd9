//! Every architecture against a reference that is not ours: llama.cpp's logits for the tiny
//! random models (tests/data/tiny_llamacpp_logits.json, written by
//! scripts/tiny_llamacpp_reference.py with llama-cpp-python 0.3.36, an f32 KV cache and flash
//! attention off, from the GGUFs `cargo run -p cospec-tests --example tiny_models` writes;
//! each quantized model also as its F32 twin, dequantized by the `gguf` package).
//! The models are regenerated here from the same seeds, byte for byte the files llama.cpp read.
//! gemma3's 20 positions run past its 6-position sliding window.

use cospec::model::{KvType, LoadOptions, LogitsRows, Model};
use cospec_tests::tiny::{llamacpp_checked, tiny_model_file};
use cospec_tests::{gpu, rel_err};

fn reference() -> serde_json::Value {
    serde_json::from_str(include_str!("../data/tiny_llamacpp_logits.json")).unwrap()
}

/// (name, worst relative error over positions, top-1 agreements, positions) per model, against
/// llama.cpp's logits for the model itself, or for its F32 twin (`twin`).
fn compare(quantized: bool, twin: bool) -> Vec<(String, f32, usize, usize)> {
    let r = reference();
    let mut out = Vec::new();
    for (name, spec) in llamacpp_checked(quantized) {
        let m = &r["models"][if twin { format!("{name}-f32") } else { name.clone() }];
        let ids: Vec<u32> = m["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let want: Vec<Vec<f32>> =
            m["logits"].as_array().unwrap().iter().map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()).collect();
        let file = tiny_model_file(&spec);
        let mut model = Model::load(gpu(), &file, &LoadOptions { ctx_len: 64, max_block: 8, kv_type: Some(KvType::F32) }, &mut |_, _| {}).unwrap();
        let got = pollster::block_on(model.forward(&ids, LogitsRows::All)).unwrap();
        let argmax = |row: &[f32]| row.iter().enumerate().fold(0, |b, (i, v)| if *v > row[b] { i } else { b });
        let (mut worst, mut same) = (0f32, 0);
        for (pos, w) in want.iter().enumerate() {
            let g = &got[pos * spec.vocab..(pos + 1) * spec.vocab];
            worst = worst.max(rel_err(g, w));
            same += (argmax(g) == argmax(w)) as usize;
        }
        out.push((name, worst, same, want.len()));
    }
    out
}

/// Every model (llama, llama with Llama 3 rope factors, qwen2, qwen3, gemma3) within 1e-3 of
/// the reference, top-1 everywhere.
fn assert_all_agree(results: Vec<(String, f32, usize, usize)>, against: &str) {
    assert_eq!(results.len(), 5);
    for (name, worst, same, n) in &results {
        assert!(*worst < 1e-3 && same == n, "{name}: worst relative error {worst}, top-1 {same}/{n} against {against}");
    }
}

#[test]
fn f32_tiny_models_give_llama_cpps_logits_in_every_architecture() {
    assert_all_agree(compare(false, false), "llama.cpp");
}

/// Every quantized type, dequantized as llama.cpp's `gguf` package does it: the quantized
/// models give llama.cpp's logits for their F32 twins.
#[test]
fn quantized_tiny_models_give_llama_cpps_logits_for_their_f32_twins() {
    assert_all_agree(compare(true, true), "llama.cpp on its F32 twin");
}

/// On the quantized files themselves llama.cpp rounds activations to 8 bits in its quantized
/// products (Q8_0 blocks of 32 for the 32-element types, Q8_K blocks of 256 for K-quants);
/// cospec keeps them f32. For the 32-element types (llama-q, gemma3-q) that moves the logits
/// by 1.5-1.6%. The K-quant models move far more (relative errors 0.3 and 1.7): their random
/// blocks carry sub-block minimums as large as their spread, which amplify the rounding.
/// scripts/activation_rounding.py shows that this rounding is the whole gap: a plain numpy
/// forward of these files with it gives llama.cpp's quantized logits (within 0 to 1.6%), and
/// without it cospec's. So those two are printed, not held to a bound.
#[test]
fn quantized_tiny_models_stay_within_llama_cpps_activation_rounding() {
    for (name, worst, same, n) in compare(true, false) {
        eprintln!("{name}: worst relative error {worst} (top-1 {same}/{n}) against llama.cpp");
        if name == "llama-q" || name == "gemma3-q" {
            assert!(worst < 0.03, "{name}: worst relative error {worst} (top-1 {same}/{n}) against llama.cpp");
        }
    }
}
