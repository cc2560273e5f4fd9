//! Hugging Face folders (config.json + *.safetensors + tokenizer.json): tensors renamed to
//! GGUF's names and the config translated to GGUF metadata keys, so one model builder serves both.

use super::{Blob, DType, FormatError, MetaValue, ModelFile, SourceKind, TensorInfo};
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
        if let Some(tc) = tokenizer_config_json {
            let tc: serde_json::Value = serde_json::from_str(tc)
                .map_err(|e| FormatError::Invalid(format!("tokenizer_config.json: {e}")))?;
            if let Some(t) = tc["chat_template"].as_str() {
                metadata.insert("tokenizer.chat_template".into(), MetaValue::Str(t.to_string()));
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
            let bytes: &[u8] = (**blob).as_ref();
            file_bytes += bytes.len() as u64;
            let st = safetensors::SafeTensors::deserialize(bytes)
                .map_err(|e| FormatError::Invalid(format!("safetensors file {index}: {e}")))?;
            for (name, view) in st.tensors() {
                let Some(gname) = gguf_name(&name) else { continue };
                let dtype = match view.dtype() {
                    safetensors::Dtype::F32 => DType::F32,
                    safetensors::Dtype::F16 => DType::F16,
                    safetensors::Dtype::BF16 => DType::BF16,
                    other => {
                        return Err(FormatError::UnsupportedType(format!(
                            "{other:?} in safetensors tensor '{name}'"
                        )))
                    }
                };
                let data = view.data();
                let offset = data.as_ptr() as usize - bytes.as_ptr() as usize;
                let info = TensorInfo {
                    name: gname.clone(),
                    dtype,
                    shape: view.shape().to_vec(),
                    offset: offset as u64,
                    size: data.len() as u64,
                };
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
