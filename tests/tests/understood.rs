//! Never a silent wrong answer: a file holding a tensor or a metadata key that would change the
//! computation is refused by name unless the engine implements it; rope scaling (Llama 3's
//! frequency factors, linear) is implemented and changes the logits as the CPU reference says.

use cospec::formats::gguf::MetaValue;
use cospec::formats::{DType, ModelFile};
use cospec::model::config::llama3_divisors;
use cospec::model::{KvType, LoadOptions, LogitsRows, Model, ModelConfig};
use cospec::platform::blob_from_vec;
use cospec_tests::reference::{Arith, RefModel};
use cospec_tests::tiny::{f32_tensor, tiny_gemma3, tiny_gguf_with, tiny_llama, tiny_qwen2, TensorBytes, TinySpec, TINY_GEMMA3_WINDOW};
use cospec_tests::{gpu, rel_err};

fn file(spec: &TinySpec, meta: Vec<(String, MetaValue)>, tensors: Vec<TensorBytes>) -> ModelFile {
    ModelFile::from_gguf(blob_from_vec(tiny_gguf_with(spec, meta, tensors))).expect("the GGUF parses")
}

fn refusal(f: &ModelFile) -> String {
    ModelConfig::from_file(f).err().map(|e| e.to_string()).unwrap_or_else(|| "accepted".into())
}

fn key(k: &str, v: MetaValue) -> Vec<(String, MetaValue)> {
    vec![(k.to_string(), v)]
}

#[test]
fn a_tensor_the_architecture_does_not_consume_is_refused_by_name() {
    let spec = tiny_llama(1);
    let hd = spec.hidden / spec.heads;
    for name in ["blk.0.attn_q_norm.weight", "blk.1.attn_output.bias", "blk.9.attn_norm.weight", "output_norm.bias", "rope_freqs"] {
        let e = refusal(&file(&spec, vec![], vec![f32_tensor(name, &vec![1.0; hd])]));
        assert!(e.contains(&format!("tensor '{name}'")) && e.contains("not implemented"), "{name}: {e}");
    }
    // QKV biases are consumed when the first layer has them (qwen2), not one layer's alone.
    let e = refusal(&file(&spec, vec![], vec![f32_tensor("blk.1.attn_q.bias", &vec![0.0; spec.hidden])]));
    assert!(e.contains("blk.1.attn_q.bias"), "{e}");
    assert!(ModelConfig::from_file(&file(&tiny_qwen2(2), vec![], vec![])).is_ok());
    // Old converters' standard inverse frequencies change nothing.
    assert!(ModelConfig::from_file(&file(&spec, vec![], vec![f32_tensor("blk.0.attn_rot_embd", &vec![1.0; hd / 2])])).is_ok());
}

#[test]
fn a_metadata_key_that_changes_the_math_is_refused_unless_implemented() {
    let spec = tiny_llama(1);
    let hd = (spec.hidden / spec.heads) as u32;
    for (k, v) in [
        ("llama.attention.sliding_window", MetaValue::U32(64)),
        ("llama.attn_logit_softcapping", MetaValue::F32(50.0)),
        ("llama.expert_count", MetaValue::U32(8)),
        ("llama.rope.dimension_count", MetaValue::U32(hd / 2)),
        ("llama.attention.value_length", MetaValue::U32(hd * 2)),
        ("llama.rope.scaling.type", MetaValue::Str("yarn".into())),
        ("llama.rope.scale_linear", MetaValue::F32(2.0)),
    ] {
        let e = refusal(&file(&spec, key(k, v), vec![]));
        assert!(e.contains(&format!("metadata {k}")) && e.contains("not implemented"), "{k}: {e}");
    }
    // Keys that agree with the shapes, or are facts about training, pass.
    for (k, v) in [
        ("llama.rope.dimension_count", MetaValue::U32(hd)),
        ("llama.vocab_size", MetaValue::U32(spec.vocab as u32)),
        ("llama.expert_count", MetaValue::U32(0)),
        ("llama.rope.scaling.type", MetaValue::Str("none".into())),
        ("general.name", MetaValue::Str("anything".into())),
    ] {
        assert!(ModelConfig::from_file(&file(&spec, key(k, v.clone()), vec![])).is_ok(), "{k} = {v:?} refused");
    }
    // Linear scaling needs its factor.
    let e = refusal(&file(&spec, key("llama.rope.scaling.type", MetaValue::Str("linear".into())), vec![]));
    assert!(e.contains("llama.rope.scaling.factor"), "{e}");
}

#[test]
fn llama3_rope_factors_follow_the_published_formula() {
    // Llama 3.1 8B: head_dim 128, base 500000, factor 8, low 1, high 4, 8192 original positions
    // (values from an independent transcription of transformers' formula).
    let d = llama3_divisors(128, 500000.0, 8.0, 1.0, 4.0, 8192.0).unwrap();
    for (i, want) in [(0, 1.0), (20, 1.0), (30, 1.553415), (35, 8.0), (63, 8.0)] {
        assert!((d[i] - want).abs() < 1e-5, "divisor {i}: {} vs {want}", d[i]);
    }
    assert!(llama3_divisors(128, 500000.0, 8.0, 4.0, 1.0, 8192.0).is_err(), "high <= low accepted");
}

/// GPU logits of `f` against the CPU reference over a prompt; returns them.
fn logits_match_reference(f: &ModelFile, vocab: usize) -> Vec<f32> {
    let mut model = Model::load(gpu(), f, &LoadOptions { ctx_len: 96, max_block: 16, ..Default::default() }, &mut |_, _| {}).unwrap();
    let toks: Vec<u32> = (0..40).map(|i| (i * 31 + 7) % vocab as u32).collect();
    let got = pollster::block_on(model.forward(&toks, LogitsRows::All)).unwrap();
    let want = RefModel::new(f).forward_cached(&toks, Arith::F32, model.kv_type() == KvType::F16);
    for (pos, w) in want.iter().enumerate() {
        let e = rel_err(&got[pos * vocab..(pos + 1) * vocab], w);
        assert!(e < 1e-3, "position {pos}: rel err {e}");
    }
    got
}

#[test]
fn rope_factors_and_linear_scaling_change_the_logits_as_the_reference_does() {
    let spec = tiny_llama(5);
    let half = spec.hidden / spec.heads / 2;
    let plain = logits_match_reference(&file(&spec, vec![], vec![]), spec.vocab);
    // Llama 3's factors: 1 for the fastest pairs, large for the slowest.
    let factors: Vec<f32> = (0..half).map(|i| 1.0 + 7.0 * i as f32 / (half - 1) as f32).collect();
    let with_factors = file(&spec, vec![], vec![f32_tensor("rope_freqs.weight", &factors)]);
    assert_eq!(ModelConfig::from_file(&with_factors).unwrap().rope_freq_divisors, factors);
    let scaled = logits_match_reference(&with_factors, spec.vocab);
    let linear = file(&spec, vec![("llama.rope.scaling.type".into(), MetaValue::Str("linear".into())), ("llama.rope.scaling.factor".into(), MetaValue::F32(4.0))], vec![]);
    let stretched = logits_match_reference(&linear, spec.vocab);
    // The factors reach the logits (ignoring them, as before, gave `plain`).
    for (what, l) in [("rope_freqs", &scaled), ("linear", &stretched)] {
        let e = rel_err(l, &plain);
        assert!(e > 1e-2, "{what}: logits barely differ from plain rope (rel err {e})");
    }
    // A factor tensor of the wrong length, or with a non-positive factor, is named.
    let e = refusal(&file(&spec, vec![], vec![f32_tensor("rope_freqs.weight", &factors[1..])]));
    assert!(e.contains("rope_freqs.weight"), "{e}");
    let mut bad = factors.clone();
    bad[2] = 0.0;
    let e = refusal(&file(&spec, vec![], vec![f32_tensor("rope_freqs.weight", &bad)]));
    assert!(e.contains("positive"), "{e}");
    let _ = DType::F32;
}

fn hf_config(extra: serde_json::Value) -> String {
    let mut c = serde_json::json!({
        "model_type": "llama", "num_hidden_layers": 1, "hidden_size": 64, "intermediate_size": 96,
        "num_attention_heads": 4, "num_key_value_heads": 2, "rope_theta": 10000.0, "rms_norm_eps": 1e-5,
        "hidden_act": "silu", "head_dim": 16, "sliding_window": 4096, "use_sliding_window": false
    });
    c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    c.to_string()
}

#[test]
fn hf_configs_that_change_the_math_are_translated_or_refused() {
    let hf = |extra: serde_json::Value| ModelFile::from_hf_parts(&hf_config(extra), None, None, vec![]);
    for (extra, named) in [
        (serde_json::json!({"hidden_act": "gelu_pytorch_tanh"}), "hidden_act"),
        (serde_json::json!({"use_sliding_window": true}), "use_sliding_window"),
        (serde_json::json!({"final_logit_softcapping": 30.0}), "final_logit_softcapping"),
        (serde_json::json!({"partial_rotary_factor": 0.5}), "partial_rotary_factor"),
        (serde_json::json!({"model_type": "gemma3"}), "gemma3"),
    ] {
        let e = hf(extra.clone()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains(named) && e.contains("not implemented"), "{extra}: {e}");
    }
    // A head size of its own becomes the key length the config reads.
    let wide = hf(serde_json::json!({"head_dim": 32})).unwrap();
    assert_eq!(wide.meta("llama.attention.key_length").and_then(|v| v.as_u64()), Some(32));
    // rope_scaling: llama3 becomes the config's divisors; an unimplemented type is named.
    let llama3 = serde_json::json!({"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}});
    let f = hf(llama3).unwrap();
    assert_eq!(f.meta_str("llama.rope.scaling.type"), Some("llama3"));
    let yarn = hf(serde_json::json!({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}})).unwrap();
    assert_eq!(yarn.meta_str("llama.rope.scaling.type"), Some("yarn"));
    assert!(hf(serde_json::json!({"rope_scaling": {"rope_type": "linear"}})).is_err(), "linear without its factor");
}

#[test]
fn an_hf_tensor_without_a_place_in_the_graph_is_refused_by_name() {
    use safetensors::{serialize, tensor::TensorView, Dtype};
    let zeros = |n: usize| vec![0u8; n * 4];
    let (embd, norm, inv_freq) = (zeros(300 * 64), zeros(64), zeros(8));
    let folder = |extra: &str, extra_shape: Vec<usize>| {
        let views = vec![
            ("model.embed_tokens.weight".to_string(), TensorView::new(Dtype::F32, vec![300, 64], &embd).unwrap()),
            (extra.to_string(), TensorView::new(Dtype::F32, extra_shape.clone(), &norm[..extra_shape[0] * 4]).unwrap()),
            // Rope's standard inverse frequencies: dropped, harmless.
            ("model.layers.0.self_attn.rotary_emb.inv_freq".to_string(), TensorView::new(Dtype::F32, vec![8], &inv_freq).unwrap()),
        ];
        let st = serialize(views, None).unwrap();
        ModelFile::from_hf_parts(&hf_config(serde_json::json!({})), None, None, vec![blob_from_vec(st)]).unwrap()
    };
    // Gemma's extra norm has no GGUF name here: refused under its own.
    let f = folder("model.layers.0.pre_feedforward_layernorm.weight", vec![16]);
    assert!(f.tensor("model.layers.0.self_attn.rotary_emb.inv_freq").is_none());
    let e = refusal(&f);
    assert!(e.contains("tensor 'model.layers.0.pre_feedforward_layernorm.weight'") && e.contains("not implemented"), "{e}");
    // Qwen3's per-head q norm in a llama folder: llama has no place for it.
    let e = refusal(&folder("model.layers.0.self_attn.q_norm.weight", vec![16]));
    assert!(e.contains("tensor 'blk.0.attn_q_norm.weight'"), "{e}");
}

#[test]
fn a_head_size_the_tensors_disagree_with_is_an_error_at_load() {
    // key_length says 32-wide heads; the llama's q/k/v are 16 wide: named, never a panic.
    let spec = tiny_llama(1);
    let hd = (spec.hidden / spec.heads) as u32;
    let f = file(&spec, key("llama.attention.key_length", MetaValue::U32(hd * 2)), vec![]);
    let e = Model::load(gpu(), &f, &LoadOptions { ctx_len: 32, max_block: 4, ..Default::default() }, &mut |_, _| {}).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("attn_q.weight"), "{e}");
}

#[test]
fn gemma3_keys_it_does_not_implement_are_refused_and_its_own_are_read() {
    let spec = tiny_gemma3(1);
    let c = ModelConfig::from_file(&file(&spec, vec![], vec![])).unwrap();
    // Layers 0 and 2 local (pattern 2), the window and local base as written.
    assert_eq!(c.swa_layers, vec![true, false, true]);
    assert_eq!((c.sliding_window, c.rope_theta_swa), (TINY_GEMMA3_WINDOW, 100.0));
    assert!(c.post_norms && c.qk_norm && (c.embed_scale - 8.0).abs() < 1e-6);
    // Soft-capping (Gemma 2) changes the logits: refused by name, whatever its value.
    for k in ["gemma3.final_logit_softcapping", "gemma3.attn_logit_softcapping"] {
        let e = refusal(&file(&spec, key(k, MetaValue::F32(30.0)), vec![]));
        assert!(e.contains(k), "{k}: {e}");
    }
    // A per-layer pattern of the wrong length, and a tensor gemma3 has no place for.
    let e = refusal(&file(&spec, key("gemma3.attention.sliding_window_pattern", MetaValue::Array(vec![MetaValue::Bool(true)])), vec![]));
    assert!(e.contains("sliding_window_pattern"), "{e}");
    let e = refusal(&file(&spec, vec![], vec![f32_tensor("blk.0.pre_feedforward_norm.weight", &vec![1.0; spec.hidden])]));
    assert!(e.contains("tensor 'blk.0.pre_feedforward_norm.weight'"), "{e}");
    // The post-norms belong to gemma3 only.
    let e = refusal(&file(&tiny_llama(1), vec![], vec![f32_tensor("blk.0.post_ffw_norm.weight", &vec![1.0; 64])]));
    assert!(e.contains("tensor 'blk.0.post_ffw_norm.weight'"), "{e}");
    // A sliding window means nothing to llama here: refused, not ignored.
    let e = refusal(&file(&tiny_llama(1), key("llama.attention.sliding_window", MetaValue::U32(4096)), vec![]));
    assert!(e.contains("llama.attention.sliding_window"), "{e}");
    // Gemma 3 27B scales its queries differently.
    let e = refusal(&file(&TinySpec { layers: 62, hidden: 32, ffn: 32, ..spec }, vec![], vec![]));
    assert!(e.contains("27B"), "{e}");
}
