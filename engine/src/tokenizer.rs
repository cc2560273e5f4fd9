//! Tokenizers from tokenizer.json or from GGUF metadata (byte-level BPE: vocabulary, merges,
//! token types and the `tokenizer.ggml.pre` pre-tokenizer; SentencePiece-style `llama`:
//! vocabulary, scores and token types), chat templates rendered with minijinja, and streaming
//! detokenization that never splits a UTF-8 character.

mod spm;

use crate::formats::{FormatError, MetaValue, ModelFile, SourceKind};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("tokenizer: {0}")]
    Build(String),
    #[error("chat template: {0}")]
    Template(String),
}

/// GPT-2's pre-tokenizer regex (also llama.cpp's default for BPE models).
const GPT2_REGEX: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// Qwen2's regex, as in its tokenizer.json.
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's regex (`llama-bpe`).
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Gemma's turn format, for Gemma files that carry no template: its `model` role for the
/// assistant, and a system message folded into the first user turn (Gemma has no system role).
const GEMMA_TEMPLATE: &str = "{% if messages and messages[0]['role'] == 'system' %}{% set first = messages[0]['content'] + '\n\n' %}{% set turns = messages[1:] %}{% else %}{% set first = '' %}{% set turns = messages %}{% endif %}{% for message in turns %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + (first if loop.first else '') + message['content'] + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}";

/// One chat message.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &str, content: &str) -> Self {
        ChatMessage { role: role.into(), content: content.into() }
    }
}

/// The tokenizer proper: the `tokenizers` library for tokenizer.json and byte-level BPE,
/// llama.cpp's SentencePiece algorithm for GGUF `llama` vocabularies (so both engines agree).
enum Inner {
    Hf(Box<tokenizers::Tokenizer>),
    Spm(spm::Spm),
}

impl Inner {
    fn token_to_id(&self, text: &str) -> Option<u32> {
        match self {
            Inner::Hf(t) => t.token_to_id(text),
            Inner::Spm(s) => s.id(text),
        }
    }
}

pub struct Tokenizer {
    inner: Inner,
    pub bos_id: Option<u32>,
    pub eos_ids: Vec<u32>,
    pub add_bos: bool,
    chat_template: Option<String>,
    bos_text: String,
    eos_text: String,
}

fn meta_strings(f: &ModelFile, key: &str) -> Result<Vec<String>, FormatError> {
    let arr = f
        .meta(key)
        .and_then(|v| v.as_array())
        .ok_or_else(|| FormatError::Missing(format!("metadata {key}")))?;
    arr.iter()
        .map(|v| v.as_str().map(str::to_string).ok_or_else(|| FormatError::Invalid(format!("{key} holds a non-string"))))
        .collect()
}

/// Runs a call into the `tokenizers` library, whose pipeline steps come from the model file
/// and can panic on hostile settings (a Strip decoder's counts underflow an index, found by
/// fuzzing): the panic becomes an error, so a server or page survives a bad tokenizer.
fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, TokenizerError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| TokenizerError::Build(format!("{what} failed inside the tokenizers library: the tokenizer's settings are broken")))
}

/// The `tokenizers` crate from tokenizer.json text. It panics on some malformed documents
/// (a syntax error inside a nested pattern is unwrapped, found by fuzzing), so the text is
/// first checked to be JSON, and a panic that still escapes becomes an error.
fn build_from_json(json: &str) -> Result<tokenizers::Tokenizer, TokenizerError> {
    serde_json::from_str::<serde::de::IgnoredAny>(json).map_err(|e| TokenizerError::Build(format!("tokenizer.json is not JSON: {e}")))?;
    match std::panic::catch_unwind(|| json.parse::<tokenizers::Tokenizer>()) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(TokenizerError::Build(format!("tokenizer.json: {e}"))),
        Err(_) => Err(TokenizerError::Build("tokenizer.json: the tokenizers library could not read it".into())),
    }
}

/// The special token a tokenizer.json post-processor puts before a single text: a
/// TemplateProcessing whose template starts with one, alone or inside a Sequence.
fn leading_special(pp: &serde_json::Value) -> Option<String> {
    match pp["type"].as_str()? {
        "TemplateProcessing" => pp["single"].as_array()?.first()?["SpecialToken"]["id"].as_str().map(str::to_string),
        "Sequence" => pp["processors"].as_array()?.iter().find_map(leading_special),
        _ => None,
    }
}

fn meta_u32(f: &ModelFile, key: &str) -> Option<u32> {
    f.meta(key).and_then(|v| v.as_u64()).and_then(|v| u32::try_from(v).ok())
}

impl Tokenizer {
    /// The tokenizer of a model file: tokenizer.json for HF folders, metadata for GGUF.
    pub fn from_model_file(f: &ModelFile) -> Result<Tokenizer, TokenizerError> {
        match (f.kind, &f.tokenizer_json) {
            (SourceKind::HfSafetensors, Some(json)) => {
                let mut t = Self::from_json(json)?;
                t.chat_template = f.meta_str("tokenizer.chat_template").map(str::to_string);
                if let Some(b) = f.meta_str("tokenizer.hf.bos_token") {
                    t.bos_text = b.to_string();
                    t.bos_id = t.inner.token_to_id(b);
                }
                // tokenizer_config.json's add_bos_token rules over the post-processor, as in
                // transformers.
                if let Some(add) = f.meta("tokenizer.hf.add_bos_token").and_then(|v| v.as_bool()) {
                    t.add_bos = add;
                }
                if let Some(e) = f.meta_str("tokenizer.hf.eos_token") {
                    t.eos_text = e.to_string();
                    t.eos_ids = t.inner.token_to_id(e).into_iter().collect();
                }
                Ok(t)
            }
            (SourceKind::HfSafetensors, None) => Err(TokenizerError::Build("the HF folder has no tokenizer.json".into())),
            (SourceKind::Gguf, _) => Self::from_gguf(f),
        }
    }

    /// From tokenizer.json text. A post-processor that puts a special token before every
    /// text (Llama 2 and 3, Mistral, TinyLlama) makes that token the BOS `encode` adds, as
    /// transformers' `encode` does.
    pub fn from_json(json: &str) -> Result<Tokenizer, TokenizerError> {
        let inner = Inner::Hf(Box::new(build_from_json(json)?));
        let find = |names: &[&str]| names.iter().find_map(|n| inner.token_to_id(n).map(|id| (id, n.to_string())));
        let eos = find(&["<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>"]);
        let leading = serde_json::from_str::<serde_json::Value>(json).ok().and_then(|doc| leading_special(&doc["post_processor"]));
        let leading = leading.and_then(|t| inner.token_to_id(&t).map(|id| (id, t)));
        let add_bos = leading.is_some();
        let bos = leading.or_else(|| find(&["<|im_start|>", "<s>", "<|begin_of_text|>"]));
        Ok(Tokenizer {
            bos_id: bos.as_ref().map(|b| b.0),
            eos_ids: eos.iter().map(|e| e.0).collect(),
            add_bos,
            chat_template: None,
            bos_text: bos.map(|b| b.1).unwrap_or_default(),
            eos_text: eos.map(|e| e.1).unwrap_or_default(),
            inner,
        })
    }

    /// From GGUF metadata: builds the equivalent tokenizer.json and loads it.
    pub fn from_gguf(f: &ModelFile) -> Result<Tokenizer, TokenizerError> {
        let model = f.meta_str("tokenizer.ggml.model").unwrap_or("");
        let tokens = meta_strings(f, "tokenizer.ggml.tokens")?;
        let types: Vec<i64> = match f.meta("tokenizer.ggml.token_type") {
            Some(MetaValue::Array(a)) => a.iter().map(|v| v.as_i64().unwrap_or(1)).collect(),
            _ => vec![1; tokens.len()],
        };
        if types.len() != tokens.len() {
            return Err(TokenizerError::Build(format!(
                "{} token types for {} tokens",
                types.len(),
                tokens.len()
            )));
        }
        let inner = match model {
            "gpt2" => Inner::Hf(Box::new(bpe_from_gguf(f, &tokens, &types)?)),
            "llama" => Inner::Spm(spm_from_gguf(f, tokens.clone(), &types)?),
            _ => {
                return Err(TokenizerError::Build(format!(
                    "tokenizer model '{model}' is not supported (byte-level BPE 'gpt2' and SentencePiece 'llama' are)"
                )))
            }
        };
        let n = tokens.len() as u32;
        let id_ok = |id: Option<u32>| id.filter(|&i| i < n);
        let bos_id = id_ok(meta_u32(f, "tokenizer.ggml.bos_token_id"));
        let eos_id = id_ok(meta_u32(f, "tokenizer.ggml.eos_token_id"));
        let mut eos_ids: Vec<u32> = eos_id.into_iter().collect();
        // Chat models end turns with their own token; stop on it too.
        for extra in ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>"] {
            if let Some(id) = inner.token_to_id(extra) {
                if !eos_ids.contains(&id) {
                    eos_ids.push(id);
                }
            }
        }
        let text = |id: Option<u32>| id.map(|i| tokens[i as usize].clone()).unwrap_or_default();
        // llama.cpp's defaults when the file does not say: SentencePiece models start with BOS.
        let add_bos_default = model == "llama";
        Ok(Tokenizer {
            bos_text: text(bos_id),
            eos_text: text(eos_id),
            bos_id,
            eos_ids,
            add_bos: f.meta("tokenizer.ggml.add_bos_token").and_then(|v| v.as_bool()).unwrap_or(add_bos_default),
            chat_template: f.meta_str("tokenizer.chat_template").map(str::to_string),
            inner,
        })
    }

    pub fn vocab_size(&self) -> usize {
        match &self.inner {
            Inner::Hf(t) => t.get_vocab_size(true),
            Inner::Spm(s) => s.len(),
        }
    }

    fn vocab(&self) -> std::collections::HashMap<String, u32> {
        match &self.inner {
            Inner::Hf(t) => t.get_vocab(true),
            Inner::Spm(s) => s.vocab(),
        }
    }

    /// The first token whose id differs between two tokenizers, if any (a speculative pair
    /// must agree on every id).
    pub fn vocabulary_difference(&self, other: &Tokenizer) -> Option<String> {
        let (a, b) = (self.vocab(), other.vocab());
        if a.len() != b.len() {
            return Some(format!("{} tokens vs {}", a.len(), b.len()));
        }
        let mut diffs: Vec<(&String, &u32)> = a.iter().filter(|(t, id)| b.get(*t) != Some(id)).collect();
        diffs.sort_by_key(|(_, id)| **id);
        diffs.first().map(|(t, id)| format!("token {t:?} is id {id} in one and {:?} in the other", b.get(*t)))
    }

    /// Encodes text; special tokens written in the text (e.g. `<|im_start|>`) become their ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let mut ids = match &self.inner {
            Inner::Hf(t) => guarded("encoding", || t.encode(text, false))?.map_err(|e| TokenizerError::Build(e.to_string()))?.get_ids().to_vec(),
            Inner::Spm(s) => s.encode(text).map_err(TokenizerError::Build)?,
        };
        if self.add_bos {
            if let Some(b) = self.bos_id {
                ids.insert(0, b);
            }
        }
        Ok(ids)
    }

    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String, TokenizerError> {
        match &self.inner {
            Inner::Hf(t) => guarded("decoding", || t.decode(ids, skip_special))?.map_err(|e| TokenizerError::Build(e.to_string())),
            Inner::Spm(s) => Ok(s.decode(ids, !skip_special)),
        }
    }

    pub fn token_text(&self, id: u32) -> Option<String> {
        match &self.inner {
            Inner::Hf(t) => t.id_to_token(id),
            Inner::Spm(s) => s.token(id).map(str::to_string),
        }
    }

    pub fn is_eos(&self, id: u32) -> bool {
        self.eos_ids.contains(&id)
    }

    pub fn has_chat_template(&self) -> bool {
        self.chat_template.is_some()
    }

    /// The turn format used when the file has no chat template: Gemma's for a vocabulary with
    /// its turn tokens, else ChatML.
    pub fn fallback_template_name(&self) -> &'static str {
        if self.inner.token_to_id("<start_of_turn>").is_some() {
            "Gemma's"
        } else {
            "ChatML"
        }
    }

    /// Renders the model's chat template (`fallback_template_name` when it has none). A
    /// template that writes the BOS token itself loses it when `encode` adds one anyway, so a
    /// prompt never starts with two (llama.cpp does the same).
    pub fn apply_chat_template(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String, TokenizerError> {
        let text = match &self.chat_template {
            Some(source) => crate::chat_template::render_file_template(&crate::chat_template::RenderJob {
                source: source.clone(),
                messages: messages.to_vec(),
                add_generation_prompt,
                bos: self.bos_text.clone(),
                eos: self.eos_text.clone(),
            })?,
            None => {
                let fallback = if self.fallback_template_name() == "ChatML" { CHATML_TEMPLATE } else { GEMMA_TEMPLATE };
                crate::chat_template::render(fallback, messages, add_generation_prompt, &self.bos_text, &self.eos_text)?
            }
        };
        match text.strip_prefix(self.bos_text.as_str()) {
            Some(rest) if self.add_bos && self.bos_id.is_some() && !self.bos_text.is_empty() => Ok(rest.to_string()),
            _ => Ok(text),
        }
    }
}

/// Byte-level BPE from GGUF metadata: builds the equivalent tokenizer.json and loads it.
fn bpe_from_gguf(f: &ModelFile, tokens: &[String], types: &[i64]) -> Result<tokenizers::Tokenizer, TokenizerError> {
    let merges = meta_strings(f, "tokenizer.ggml.merges")?;
    let pre = f.meta_str("tokenizer.ggml.pre").unwrap_or("default");
    let split = |re: &str| json!({"type": "Split", "pattern": {"Regex": re}, "behavior": "Isolated", "invert": false});
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": use_regex});
    let (normalizer, pre_tokenizer) = match pre {
        "qwen2" => (json!({"type": "NFC"}), json!({"type": "Sequence", "pretokenizers": [split(QWEN2_REGEX), byte_level(false)]})),
        "smollm" | "starcoder" | "refact" => (
            Value::Null,
            json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level(true)]}),
        ),
        "llama-bpe" | "llama3" => (Value::Null, json!({"type": "Sequence", "pretokenizers": [split(LLAMA3_REGEX), byte_level(false)]})),
        "gpt-2" | "gpt2" | "default" => (Value::Null, json!({"type": "Sequence", "pretokenizers": [split(GPT2_REGEX), byte_level(false)]})),
        other => {
            return Err(TokenizerError::Build(format!(
                "pre-tokenizer '{other}' is not supported (qwen2, smollm, llama-bpe, gpt-2)"
            )))
        }
    };
    let mut vocab = serde_json::Map::with_capacity(tokens.len());
    let mut added = Vec::new();
    for (id, (tok, ty)) in tokens.iter().zip(types).enumerate() {
        vocab.insert(tok.clone(), json!(id));
        // 3: control, 4: user-defined: matched whole, before BPE.
        if *ty == 3 || *ty == 4 {
            added.push(json!({"id": id, "content": tok, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": *ty == 3}));
        }
    }
    let mut merge_pairs = Vec::with_capacity(merges.len());
    for m in &merges {
        let (a, b) = m
            .split_once(' ')
            .ok_or_else(|| TokenizerError::Build(format!("merge '{m}' has no space")))?;
        merge_pairs.push(json!([a, b]));
    }
    let doc = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merge_pairs},
    });
    // Built from the file's strings: a panic inside the library is an error here too.
    match std::panic::catch_unwind(move || serde_json::from_value::<tokenizers::Tokenizer>(doc)) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(TokenizerError::Build(format!("from GGUF metadata: {e}"))),
        Err(_) => Err(TokenizerError::Build("from GGUF metadata: the tokenizers library could not read it".into())),
    }
}

/// SentencePiece from GGUF metadata: tokens, their scores (0 when absent, as in llama.cpp) and
/// types, and whether text starts with a space (`tokenizer.ggml.add_space_prefix`, default yes).
fn spm_from_gguf(f: &ModelFile, tokens: Vec<String>, types: &[i64]) -> Result<spm::Spm, TokenizerError> {
    let scores: Vec<f32> = match f.meta("tokenizer.ggml.scores") {
        Some(MetaValue::Array(a)) => a
            .iter()
            .map(|v| v.as_f64().map(|x| x as f32).ok_or_else(|| TokenizerError::Build("tokenizer.ggml.scores holds a non-number".into())))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(TokenizerError::Build("tokenizer.ggml.scores is not an array".into())),
        None => vec![0.0; tokens.len()],
    };
    let kinds = types.iter().map(|&t| spm::Kind::from_type(t)).collect();
    let add_space_prefix = f.meta("tokenizer.ggml.add_space_prefix").and_then(|v| v.as_bool()).unwrap_or(true);
    spm::Spm::new(tokens, scores, kinds, add_space_prefix).map_err(|e| TokenizerError::Build(format!("SentencePiece vocabulary: {e}")))
}

/// Turns a stream of token ids into text pieces, holding back bytes of an incomplete UTF-8
/// character until the token that completes it arrives.
#[derive(Default)]
pub struct TextStream {
    ids: Vec<u32>,
    prefix: usize,
    read: usize,
}

impl TextStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token; returns the text it completes (possibly empty).
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> Result<String, TokenizerError> {
        self.ids.push(id);
        let before = tok.decode(&self.ids[self.prefix..self.read], true)?;
        let now = tok.decode(&self.ids[self.prefix..], true)?;
        if now.len() > before.len() && !now.ends_with('\u{FFFD}') && now.is_char_boundary(before.len()) {
            let piece = now[before.len()..].to_string();
            self.prefix = self.read;
            self.read = self.ids.len();
            Ok(piece)
        } else {
            Ok(String::new())
        }
    }

    /// Whatever is still held back (an incomplete character at the very end).
    pub fn finish(&mut self, tok: &Tokenizer) -> Result<String, TokenizerError> {
        let before = tok.decode(&self.ids[self.prefix..self.read], true)?;
        let now = tok.decode(&self.ids[self.prefix..], true)?;
        self.prefix = self.ids.len();
        self.read = self.ids.len();
        Ok(now.get(before.len()..).unwrap_or("").to_string())
    }
}
