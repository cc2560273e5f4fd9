//! Refuses a model file holding anything that changes the computation and is not implemented:
//! a tensor the architecture does not consume (Qwen3's Q/K norms, Llama 3's rope factors before
//! they were implemented, biases the graph has no place for) or a metadata key of the
//! architecture that is neither used nor known to be harmless (sliding windows, soft-capping,
//! experts, YaRN). Running such a file with the part ignored gives fluent, wrong output.

use super::config::{Arch, ModelConfig};
use crate::formats::{FormatError, MetaValue, ModelFile};

/// Keys under `{arch}.` the config reads (their values are checked where they are read).
const USED_KEYS: &[&str] = &[
    "block_count",
    "embedding_length",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.layer_norm_rms_epsilon",
    "context_length",
    "rope.freq_base",
    "rope.scaling.type",
    "rope.scaling.factor",
    "attention.key_length",
    "attention.value_length",
];

/// Keys only some architectures read.
fn arch_keys(c: &ModelConfig) -> &'static [&'static str] {
    match c.arch {
        Arch::Gemma3 => &["attention.sliding_window", "attention.sliding_window_pattern", "rope.freq_base_swa"],
        _ => &[],
    }
}

/// Keys under `{arch}.` that change nothing the engine computes (sizes it reads elsewhere,
/// facts about training). A key whose value could change the math is checked instead (below).
const HARMLESS_KEYS: &[&str] = &["vocab_size", "rope.scaling.original_context_length", "rope.scaling.finetuned"];

/// Tensors each layer may hold, beyond what every layer must (the builder requires those).
fn layer_tensors(c: &ModelConfig) -> Vec<&'static str> {
    let mut v = vec![
        "attn_norm.weight",
        "ffn_norm.weight",
        "attn_q.weight",
        "attn_k.weight",
        "attn_v.weight",
        "attn_output.weight",
        "ffn_gate.weight",
        "ffn_up.weight",
        "ffn_down.weight",
        // Old llama GGUFs store the standard inverse frequencies; rope recomputes them.
        "attn_rot_embd",
    ];
    if c.qkv_bias {
        v.extend(["attn_q.bias", "attn_k.bias", "attn_v.bias"]);
    }
    if c.qk_norm {
        v.extend(["attn_q_norm.weight", "attn_k_norm.weight"]);
    }
    if c.post_norms {
        v.extend(["post_attention_norm.weight", "post_ffw_norm.weight"]);
    }
    v
}

/// Every tensor of `f` is one the model consumes, and every key of its architecture's
/// metadata is used or harmless; else an error naming the first that is not.
pub fn check(f: &ModelFile, c: &ModelConfig) -> Result<(), FormatError> {
    let arch = c.arch.name();
    let per_layer = layer_tensors(c);
    for name in f.tensors.keys() {
        let consumed = match name.strip_prefix("blk.").and_then(|r| r.split_once('.')) {
            Some((layer, rest)) => layer.parse::<usize>().is_ok_and(|l| l < c.n_layer) && per_layer.contains(&rest),
            None => ["token_embd.weight", "output_norm.weight", "output.weight", "rope_freqs.weight"].contains(&name.as_str()),
        };
        if !consumed {
            return Err(FormatError::NotUnderstood(format!("tensor '{name}' is not part of the {arch} architecture as cospec implements it")));
        }
    }
    let prefix = format!("{arch}.");
    for (key, value) in &f.metadata {
        let Some(k) = key.strip_prefix(&prefix) else { continue };
        if USED_KEYS.contains(&k) || HARMLESS_KEYS.contains(&k) || arch_keys(c).contains(&k) {
            continue;
        }
        // Keys that restate a size: harmless when they agree with the shapes.
        let want = match k {
            "rope.dimension_count" => Some(c.head_dim as u64),
            "expert_count" | "expert_used_count" => Some(0),
            _ => None,
        };
        match (want, value.as_u64()) {
            (Some(w), Some(v)) if v == w => continue,
            (Some(w), _) => {
                return Err(FormatError::NotUnderstood(format!("metadata {key} = {} where the engine computes with {w}", show(value))));
            }
            (None, _) => return Err(FormatError::NotUnderstood(format!("metadata {key} = {}", show(value)))),
        }
    }
    Ok(())
}

fn show(v: &MetaValue) -> String {
    match v {
        MetaValue::Str(s) => format!("{s:?}"),
        MetaValue::Array(a) => format!("[{} values]", a.len()),
        other => other.as_f64().map(|x| x.to_string()).unwrap_or_else(|| format!("{other:?}")),
    }
}
