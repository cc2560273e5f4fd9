//! Hugging Face folders: a tiny llama written as config.json + safetensors + tokenizer.json,
//! with Q/K rows in HF order (rotated as halves), must give the logits of the same model as
//! GGUF (rows permuted by the converter, rotated as adjacent pairs).

use cospec::formats::{ModelFile, SourceKind};
use cospec::model::{LoadOptions, LogitsRows, Model};
use cospec::platform::blob_from_vec;
use cospec_tests::tiny::{tiny_llama, tiny_model_file};
use cospec_tests::{gpu, rel_err};
use half::{bf16, f16};
use safetensors::{serialize, tensor::TensorView, Dtype};
use std::collections::BTreeMap;

/// GGUF llama rows (h, 2i + e) come from HF rows (h, e * hd/2 + i): undo that.
fn unpermute(w: &[f32], heads: usize, rows: usize, cols: usize) -> Vec<f32> {
    let hd = rows / heads;
    let mut out = vec![0f32; w.len()];
    for h in 0..heads {
        for i in 0..hd / 2 {
            for e in 0..2 {
                let g = h * hd + 2 * i + e;
                let f = h * hd + e * hd / 2 + i;
                out[f * cols..(f + 1) * cols].copy_from_slice(&w[g * cols..(g + 1) * cols]);
            }
        }
    }
    out
}

fn hf_name(gguf: &str) -> String {
    match gguf {
        "token_embd.weight" => "model.embed_tokens.weight".into(),
        "output_norm.weight" => "model.norm.weight".into(),
        "output.weight" => "lm_head.weight".into(),
        _ => {
            let rest = gguf.strip_prefix("blk.").unwrap();
            let (layer, rest) = rest.split_once('.').unwrap();
            let (module, kind) = rest.rsplit_once('.').unwrap();
            let m = match module {
                "attn_norm" => "input_layernorm",
                "ffn_norm" => "post_attention_layernorm",
                "attn_q" => "self_attn.q_proj",
                "attn_k" => "self_attn.k_proj",
                "attn_v" => "self_attn.v_proj",
                "attn_output" => "self_attn.o_proj",
                "ffn_gate" => "mlp.gate_proj",
                "ffn_up" => "mlp.up_proj",
                "ffn_down" => "mlp.down_proj",
                other => panic!("{other}"),
            };
            format!("model.layers.{layer}.{m}.{kind}")
        }
    }
}

#[test]
fn hf_folder_matches_the_gguf_model() {
    let spec = tiny_llama(8);
    let gguf = tiny_model_file(&spec);
    // Tensors as F32, with a few in F16 and BF16 to cover those types from safetensors.
    let mut data: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, (_, t)) in &gguf.tensors {
        let mut v = gguf.tensor_f32(name).unwrap();
        if name.ends_with("attn_q.weight") {
            v = unpermute(&v, spec.heads, t.shape[0], t.shape[1]);
        } else if name.ends_with("attn_k.weight") {
            v = unpermute(&v, spec.kv_heads, t.shape[0], t.shape[1]);
        }
        let (dt, bytes): (Dtype, Vec<u8>) = if name.ends_with("ffn_up.weight") {
            (Dtype::F16, v.iter().flat_map(|x| f16::from_f32(*x).to_le_bytes()).collect())
        } else if name.ends_with("ffn_gate.weight") {
            (Dtype::BF16, v.iter().flat_map(|x| bf16::from_f32(*x).to_le_bytes()).collect())
        } else {
            (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        };
        data.insert(hf_name(name), (dt, t.shape.clone(), bytes));
    }
    let views: Vec<(String, TensorView)> =
        data.iter().map(|(n, (dt, shape, b))| (n.clone(), TensorView::new(*dt, shape.clone(), b).unwrap())).collect();
    let st = serialize(views, None).unwrap();
    let config = serde_json::json!({
        "model_type": "llama", "num_hidden_layers": spec.layers, "hidden_size": spec.hidden,
        "intermediate_size": spec.ffn, "num_attention_heads": spec.heads, "num_key_value_heads": spec.kv_heads,
        "max_position_embeddings": 256, "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": true
    });
    let hf = ModelFile::from_hf_parts(&config.to_string(), None, Some(r#"{"chat_template": "{{ messages[0].content }}"}"#), vec![blob_from_vec(st)]).unwrap();
    assert_eq!(hf.kind, SourceKind::HfSafetensors);
    assert_eq!(hf.meta_str("tokenizer.chat_template"), Some("{{ messages[0].content }}"));
    let opts = LoadOptions { ctx_len: 64, max_block: 8, ..Default::default() };
    let mut a = Model::load(gpu(), &gguf, &opts, &mut |_, _| {}).unwrap();
    let mut b = Model::load(gpu(), &hf, &opts, &mut |_, _| {}).unwrap();
    assert!(b.config.rope_halves && !a.config.rope_halves);
    let toks: Vec<u32> = (0..20).map(|i| (i * 29 + 3) % spec.vocab as u32).collect();
    let la = pollster::block_on(a.forward(&toks, LogitsRows::All)).unwrap();
    let lb = pollster::block_on(b.forward(&toks, LogitsRows::All)).unwrap();
    // F16/BF16 copies of two matrices round their weights: a loose bound, far below what a
    // wrong rotation layout gives (order 1).
    let e = rel_err(&lb, &la);
    assert!(e < 2e-2, "HF folder vs GGUF rel err {e}");
}

#[test]
fn hf_config_without_required_fields_is_named() {
    let e = ModelFile::from_hf_parts(r#"{"model_type": "llama"}"#, None, None, vec![]).err().unwrap().to_string();
    assert!(e.contains("num_hidden_layers"), "{e}");
    let e = ModelFile::from_hf_parts("not json", None, None, vec![]).err().unwrap().to_string();
    assert!(e.contains("config.json"), "{e}");
    let e = ModelFile::from_hf_parts(r#"{"model_type": "llama", "num_hidden_layers": 1, "hidden_size": 32, "intermediate_size": 32, "num_attention_heads": 1}"#, None, None, vec![blob_from_vec(b"garbage".to_vec())]).err().unwrap().to_string();
    assert!(e.contains("safetensors"), "{e}");
}
