//! Hugging Face folders (config.json + *.safetensors + tokenizer.json): tensors renamed to
//! GGUF's names and the config translated to GGUF metadata keys, so one model builder serves both.

use super::{parse_prefix, Blob, DType, FormatError, Incomplete, MetaValue, ModelFile, SourceKind, TensorInfo};
use std::collections::BTreeMap;

/// Marks HF-layout Q/K weights (not permuted for llama.cpp's rope): the model uses half-split rope.
pub const HF_ROPE_KEY: &str = "cospec.rope_halves";

fn gguf_name(hf: &str) -> Option<String> {
    let fixed = match hf {
        "model.embed_tokens.weight" => Some("token_embd.weight"),
        "model.norm.weight" => Some("output_norm.weight"),
        "lm_head.weight" => Some("output.weight"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (module, kind) = rest.rsplit_once('.')?;
    let short = match module {
        "input_layernorm" => "attn_norm",
        "post_attention_layernorm" => "ffn_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "self_attn.q_norm" => "attn_q_norm",
        "self_attn.k_norm" => "attn_k_norm",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{layer}.{short}.{kind}"))
}

impl ModelFile {
    /// Builds a model from an HF folder's parts: config.json text, tokenizer.json text,
    /// tokenizer_config.json text (for the chat template), and the safetensors files.
    pub fn from_hf_parts(
        config_json: &str,
        tokenizer_json: Option<String>,
        tokenizer_config_json: Option<&str>,
        files: Vec<Blob>,
    ) -> Result<ModelFile, FormatError> {
        let config: serde_json::Value = serde_json::from_str(config_json)
            .map_err(|e| FormatError::Invalid(format!("config.json: {e}")))?;
        let model_type = config["model_type"]
            .as_str()
            .ok_or_else(|| FormatError::Missing("model_type in config.json".into()))?
            .to_string();
        let mut metadata = BTreeMap::new();
        let arch = model_type.as_str();
        if arch.starts_with("gemma") {
            // Gemma's HF checkpoints store RMSNorm gains as w where the math uses 1 + w (GGUF
            // converters add the 1): read as-is they would run silently wrong.
            return Err(FormatError::NotUnderstood(format!("model_type {arch:?} in an HF folder (its norm gains are stored without the 1 the computation adds; a GGUF of the model runs)")));
        }
        metadata.insert("general.architecture".into(), MetaValue::Str(arch.to_string()));
        metadata.insert(HF_ROPE_KEY.into(), MetaValue::Bool(true));
        let num = |k: &str| config[k].as_u64();
        let mut put_u = |gguf_key: &str, hf_key: &str, required: bool| -> Result<(), FormatError> {
            match num(hf_key) {
                Some(v) => {
                    metadata.insert(format!("{arch}.{gguf_key}"), MetaValue::U64(v));
                    Ok(())
                }
                None if required => Err(FormatError::Missing(format!("{hf_key} in config.json"))),
                None => Ok(()),
            }
        };
        put_u("block_count", "num_hidden_layers", true)?;
        put_u("embedding_length", "hidden_size", true)?;
        put_u("feed_forward_length", "intermediate_size", true)?;
        put_u("attention.head_count", "num_attention_heads", true)?;
        put_u("attention.head_count_kv", "num_key_value_heads", false)?;
        put_u("context_length", "max_position_embeddings", false)?;
        if let Some(t) = config["rope_theta"].as_f64() {
            metadata.insert(format!("{arch}.rope.freq_base"), MetaValue::F64(t));
        }
        if let Some(e) = config["rms_norm_eps"].as_f64() {
            metadata.insert(format!("{arch}.attention.layer_norm_rms_epsilon"), MetaValue::F64(e));
        }
        translate_math_keys(&config, arch, &mut metadata)?;
        if let Some(tc) = tokenizer_config_json {
            let tc: serde_json::Value = serde_json::from_str(tc)
                .map_err(|e| FormatError::Invalid(format!("tokenizer_config.json: {e}")))?;
            if let Some(t) = tc["chat_template"].as_str() {
                metadata.insert("tokenizer.chat_template".into(), MetaValue::Str(t.to_string()));
            }
            if let Some(add) = tc["add_bos_token"].as_bool() {
                metadata.insert("tokenizer.hf.add_bos_token".into(), MetaValue::Bool(add));
            }
            for (key, field) in [("tokenizer.hf.bos_token", "bos_token"), ("tokenizer.hf.eos_token", "eos_token")] {
                let tok = tc[field].as_str().or_else(|| tc[field]["content"].as_str());
                if let Some(tok) = tok {
                    metadata.insert(key.into(), MetaValue::Str(tok.to_string()));
                }
            }
        }
        let mut tensors = BTreeMap::new();
        let mut file_bytes = 0u64;
        for (index, blob) in files.iter().enumerate() {
            file_bytes += blob.len();
            let header = parse_prefix(blob.as_ref(), safetensors_header)
                .map_err(|e| FormatError::Invalid(format!("safetensors file {index}: {e}")))?;
            for (name, dtype, shape, offset, size) in header {
                if HARMLESS_TENSORS.iter().any(|t| name.ends_with(t)) {
                    continue;
                }
                // A tensor with no GGUF name keeps its own, so the model refuses it by name
                // (model/understood.rs) instead of running without it.
                let gname = gguf_name(&name).unwrap_or_else(|| name.clone());
                let info = TensorInfo { name: gname.clone(), dtype, shape, offset, size };
                if tensors.insert(gname.clone(), (index, info)).is_some() {
                    return Err(FormatError::Invalid(format!("tensor '{name}' appears twice")));
                }
            }
        }
        Ok(ModelFile {
            kind: SourceKind::HfSafetensors,
            metadata,
            tensors,
            blobs: files,
            tokenizer_json,
            file_bytes,
        })
    }
}

/// Tensors some checkpoints carry that change nothing: rope's standard inverse frequencies.
const HARMLESS_TENSORS: [&str; 1] = ["rotary_emb.inv_freq"];

/// config.json settings that change the math, as the GGUF keys the config reads or refuses:
/// rope scaling (linear and llama3 implemented, others refused by name), and settings the
/// engine does not implement (another activation, a head size apart from hidden / heads,
/// sliding windows, soft-capping, partial rotary), refused here.
fn translate_math_keys(config: &serde_json::Value, arch: &str, metadata: &mut BTreeMap<String, MetaValue>) -> Result<(), FormatError> {
    let refuse = |what: String| Err(FormatError::NotUnderstood(format!("config.json {what}")));
    for key in ["hidden_act", "hidden_activation"] {
        if let Some(act) = config[key].as_str() {
            if act != "silu" {
                return refuse(format!("{key} = {act:?} (the feed-forward gate is SiLU)"));
            }
        }
    }
    // Heads of their own size (qwen3, some llamas): q is heads x head_dim wide.
    if let Some(hd) = config["head_dim"].as_u64() {
        metadata.insert(format!("{arch}.attention.key_length"), MetaValue::U64(hd));
    }
    if config["use_sliding_window"].as_bool() == Some(true) {
        return refuse(format!("use_sliding_window with sliding_window = {}", config["sliding_window"]));
    }
    for key in ["attn_logit_softcapping", "final_logit_softcapping", "layer_types", "num_experts", "num_local_experts"] {
        if !config[key].is_null() && config[key] != serde_json::json!(0) {
            return refuse(format!("{key} = {}", config[key]));
        }
    }
    if let Some(p) = config["partial_rotary_factor"].as_f64() {
        if p != 1.0 {
            return refuse(format!("partial_rotary_factor = {p}"));
        }
    }
    let scaling = &config["rope_scaling"];
    if scaling.is_null() {
        return Ok(());
    }
    let kind = scaling["rope_type"].as_str().or_else(|| scaling["type"].as_str()).unwrap_or("(no type)");
    let number = |k: &str| scaling[k].as_f64().ok_or_else(|| FormatError::Missing(format!("rope_scaling.{k} in config.json")));
    metadata.insert(format!("{arch}.rope.scaling.type"), MetaValue::Str(kind.to_string()));
    match kind {
        "default" => {
            metadata.insert(format!("{arch}.rope.scaling.type"), MetaValue::Str("none".into()));
        }
        "linear" => {
            metadata.insert(format!("{arch}.rope.scaling.factor"), MetaValue::F64(number("factor")?));
        }
        "llama3" => {
            for (key, field) in crate::model::config::LLAMA3_ROPE_KEYS.iter().zip(["factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"]) {
                metadata.insert(key.to_string(), MetaValue::F64(number(field)?));
            }
        }
        // Left for the config to refuse by name (yarn, dynamic, longrope, ...).
        _ => {}
    }
    Ok(())
}

/// One tensor of a safetensors header: name, type, shape, file offset, byte size.
type SafetensorsEntry = (String, DType, Vec<usize>, u64, u64);

/// Reads a safetensors header (u64 length, JSON) from the file's first bytes: every tensor's
/// range checked against the file, so tensors can be read one at a time later.
fn safetensors_header(buf: &[u8], file_len: u64) -> Result<Vec<SafetensorsEntry>, Incomplete> {
    let invalid = |m: String| Incomplete::Error(FormatError::Invalid(m));
    if file_len < 8 {
        return Err(invalid(format!("{file_len} bytes is too short for a safetensors header")));
    }
    if buf.len() < 8 {
        return Err(Incomplete::NeedMore);
    }
    let n = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
    let data_start = n.checked_add(8).filter(|&e| e <= file_len).ok_or_else(|| {
        invalid(format!("header length {n} runs past the end of the {file_len}-byte file"))
    })?;
    if (buf.len() as u64) < data_start {
        return Err(Incomplete::NeedMore);
    }
    let json: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&buf[8..data_start as usize])
        .map_err(|e| invalid(format!("header is not a JSON object: {e}")))?;
    let mut out = Vec::with_capacity(json.len());
    for (name, v) in json {
        if name == "__metadata__" {
            continue;
        }
        let dtype = match v["dtype"].as_str() {
            Some("F32") => DType::F32,
            Some("F16") => DType::F16,
            Some("BF16") => DType::BF16,
            other => {
                return Err(Incomplete::Error(FormatError::UnsupportedType(format!(
                    "{} in safetensors tensor '{name}'",
                    other.unwrap_or("no dtype")
                ))))
            }
        };
        let dims = |key: &str| -> Option<Vec<u64>> { v[key].as_array()?.iter().map(|d| d.as_u64()).collect() };
        let shape = dims("shape").ok_or_else(|| invalid(format!("tensor '{name}' has no valid shape")))?;
        let offsets = dims("data_offsets").filter(|o| o.len() == 2 && o[0] <= o[1]);
        let [begin, end] = offsets.as_deref().map(|o| [o[0], o[1]]).ok_or_else(|| invalid(format!("tensor '{name}' has no valid data_offsets")))?;
        let elems = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).filter(|&e| e <= file_len);
        let size = elems.and_then(|e| dtype.bytes_for(e).ok()).ok_or_else(|| {
            Incomplete::Error(FormatError::Shape(format!("tensor '{name}' has absurd shape {shape:?}")))
        })?;
        if end - begin != size {
            return Err(invalid(format!("tensor '{name}' spans {} bytes but its shape {shape:?} needs {size}", end - begin)));
        }
        let offset = data_start.checked_add(begin).filter(|&o| o + size <= file_len).ok_or_else(|| {
            Incomplete::Error(FormatError::Truncated(format!("tensor '{name}' runs past the end of the {file_len}-byte file")))
        })?;
        out.push((name, dtype, shape.iter().map(|&d| d as usize).collect(), offset, size));
    }
    Ok(out)
}
