//! The API a Web Worker drives: open the GPU, load a draft and a target, chat (streaming each
//! step's text to a callback whose return value says whether to go on), and report.

use crate::blob_source::BlobSource;
use crate::chat_protocol::{context_refusal, parse_settings, prompt_text, StatsView, StepReport, MAX_K};
use cospec::decode::speculative::{Origin, SpecSession};
use cospec::formats::{Blob as WeightBlob, ModelFile};
use cospec::gpu::weight::WeightStore;
use cospec::gpu::{GpuContext, GpuOptions, ShapeFamily};
use cospec::model::{LoadOptions, Model};
use cospec::tokenizer::Tokenizer;
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use web_sys::File;

/// KV-cache capacity in the browser: enough for a chat, small enough for integrated GPUs.
const BROWSER_CTX: usize = 2048;
/// Tokens per forward block: prompt chunks and verify blocks of up to MAX_K + 1.
const BROWSER_BLOCK: usize = 16;

struct Loaded {
    model: Model,
    tokenizer: Tokenizer,
}

enum Pair {
    Apart { draft: Option<Loaded>, target: Option<Loaded> },
    Session { session: SpecSession, draft_tok: Tokenizer, target_tok: Tokenizer },
}

#[wasm_bindgen]
pub struct Engine {
    ctx: Arc<GpuContext>,
    pair: Option<Pair>,
}

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

#[wasm_bindgen]
impl Engine {
    /// Opens the browser's GPU. `max_binding_bytes` > 0 splits weights as if bindings were
    /// that small (the page's test switch); `matmul` ("cooperative", "rows" or "" for the
    /// engine's choice) forces a product shape and `weights` ("buffer", "texture" or "") where
    /// weights live, for measurements. `lose_device_at` > 0 destroys the device just before
    /// that read-back (fault injection for the page's test of a lost GPU).
    pub async fn create(max_binding_bytes: f64, matmul: &str, weights: &str, lose_device_at: f64) -> Result<Engine, JsError> {
        let weights = match weights {
            "" => None,
            name => Some(WeightStore::from_name(name).ok_or_else(|| JsError::new(&format!("weights '{name}': one of {}", WeightStore::NAMES.join(", "))))?),
        };
        let opts = GpuOptions {
            backend: Some("webgpu".into()),
            adapter_name: None,
            max_binding_bytes: (max_binding_bytes > 0.0).then_some(max_binding_bytes as u64),
            matmul: if matmul.is_empty() { None } else { Some(ShapeFamily::from_name(matmul).map_err(js_err)?) },
            weights,
            lose_device_at_read_back: (lose_device_at >= 1.0).then_some(lose_device_at as u64),
            ..Default::default()
        };
        let ctx = GpuContext::new(&opts).await.map_err(js_err)?;
        Ok(Engine { ctx, pair: Some(Pair::Apart { draft: None, target: None }) })
    }

    /// The adapter and the limits that decide which models fit, as JSON.
    pub fn adapter(&self) -> String {
        let c = &self.ctx;
        serde_json::json!({
            // Browsers often hide the adapter's name.
            "name": if c.adapter.name.is_empty() { format!("WebGPU {} adapter", if c.adapter.device_type == "Cpu" { "fallback (CPU)" } else { "GPU" }) } else { c.adapter.name.clone() },
            "backend": c.adapter.backend,
            "device_type": c.adapter.device_type,
            "max_binding_bytes": c.max_binding_bytes(),
            "max_buffer_bytes": c.limits.max_buffer_size,
            "matmul": format!("{:?}", c.shape_family()),
            "weights": format!("{:?}", c.weight_store()),
        })
        .to_string()
    }

    /// Loads `files` (one .gguf, or an HF folder's config.json, tokenizer.json,
    /// tokenizer_config.json and *.safetensors) as the "draft" or the "target".
    /// `on_progress(done_bytes, total_bytes)` follows the upload. Returns a summary as JSON.
    pub fn load(&mut self, role: &str, files: Vec<File>, on_progress: &js_sys::Function) -> Result<String, JsError> {
        if role != "draft" && role != "target" {
            return Err(js_err(format!("role '{role}': draft or target")));
        }
        let file = model_file(&files).map_err(js_err)?;
        let tokenizer = Tokenizer::from_model_file(&file).map_err(js_err)?;
        let opts = LoadOptions { ctx_len: BROWSER_CTX.min(cospec::model::ModelConfig::from_file(&file).map_err(js_err)?.train_ctx.max(64)), max_block: BROWSER_BLOCK, ..Default::default() };
        let mut progress = |done: u64, total: u64| {
            let _ = on_progress.call2(&JsValue::NULL, &JsValue::from_f64(done as f64), &JsValue::from_f64(total as f64));
        };
        // Free the old model of this role before uploading its replacement.
        let (mut draft, mut target) = self.split();
        if role == "draft" { draft = None } else { target = None }
        let model = Model::load(self.ctx.clone(), &file, &opts, &mut progress).map_err(js_err)?;
        let c = &model.config;
        let summary = serde_json::json!({
            "role": role,
            "name": files.iter().map(|f| f.name()).find(|n| !n.ends_with(".json")).unwrap_or_default(),
            "architecture": file.architecture().unwrap_or("?"),
            "layers": c.n_layer,
            "hidden": c.hidden,
            "vocab": c.vocab,
            "types": file.type_histogram(),
            "file_bytes": file.file_bytes,
            "gpu_bytes": model.gpu_weight_bytes(),
            "ctx_len": model.ctx_len(),
            "chat_template": tokenizer.has_chat_template(),
        })
        .to_string();
        let loaded = Some(Loaded { model, tokenizer });
        if role == "draft" { draft = loaded } else { target = loaded }
        let (pair, mismatch) = Self::pair(draft, target);
        self.pair = Some(pair);
        match mismatch {
            Some(e) => Err(js_err(e)),
            None => Ok(summary),
        }
    }

    /// Whether both models are loaded and paired.
    pub fn ready(&self) -> bool {
        matches!(self.pair, Some(Pair::Session { .. }))
    }

    /// Generates a reply to `messages_json` ([{role, content}]) with `settings_json`.
    /// `on_step(report_json)` gets each step's text and statistics; a falsy return stops the
    /// generation after that step. Returns the final report as JSON.
    pub async fn chat(&mut self, messages_json: String, settings_json: String, on_step: js_sys::Function) -> Result<String, JsError> {
        let (settings, opts) = parse_settings(&settings_json).map_err(js_err)?;
        let Some(Pair::Session { session, target_tok, .. }) = self.pair.as_mut() else {
            return Err(js_err("load a draft and a target model first"));
        };
        let text = prompt_text(target_tok, &messages_json, settings.chat).map_err(js_err)?;
        let prompt = target_tok.encode(&text).map_err(js_err)?;
        let ctx_len = session.target.ctx_len().min(session.draft.ctx_len());
        if let Some(refusal) = context_refusal(prompt.len(), ctx_len) {
            return Err(js_err(refusal));
        }
        let mut run = session.start(&prompt, &opts).await.map_err(js_err)?;
        let report = |pieces: Vec<(String, Origin)>, stats: StatsView, done: bool| {
            serde_json::to_string(&StepReport { pieces, stats, done }).unwrap_or_default()
        };
        while !run.is_done() {
            let mut pieces = Vec::new();
            session.step(target_tok, &mut run, &mut |p, o| pieces.push((p.to_string(), o))).await.map_err(js_err)?;
            let json = report(pieces, StatsView::of(run.stats(), run.tokens().len(), ctx_len), false);
            let go = on_step.call1(&JsValue::NULL, &JsValue::from_str(&json)).map_err(|e| js_err(format!("{e:?}")))?;
            if !go.is_truthy() {
                run.stop();
            }
        }
        let mut pieces = Vec::new();
        let out = session.finish(target_tok, run, &mut |p, o| pieces.push((p.to_string(), o))).map_err(js_err)?;
        Ok(report(pieces, StatsView::of(&out.stats, out.tokens.len(), ctx_len), true))
    }
}

impl Engine {
    fn split(&mut self) -> (Option<Loaded>, Option<Loaded>) {
        match self.pair.take() {
            None => (None, None),
            Some(Pair::Apart { draft, target }) => (draft, target),
            Some(Pair::Session { session, draft_tok, target_tok }) => {
                let (d, t) = session.into_models();
                (Some(Loaded { model: d, tokenizer: draft_tok }), Some(Loaded { model: t, tokenizer: target_tok }))
            }
        }
    }

    /// Pairs the two models when both are loaded and compatible; otherwise keeps them apart
    /// (so loading the other role again can fix it) and says why.
    fn pair(draft: Option<Loaded>, target: Option<Loaded>) -> (Pair, Option<String>) {
        let (d, t) = match (draft, target) {
            (Some(d), Some(t)) => (d, t),
            (draft, target) => return (Pair::Apart { draft, target }, None),
        };
        let problem = match d.tokenizer.vocabulary_difference(&t.tokenizer) {
            Some(diff) => format!("the draft and the target do not share a tokenizer ({diff}): pick a pair of one family"),
            None => match SpecSession::check(&d.model, &t.model, MAX_K) {
                Err(e) => e.to_string(),
                Ok(()) => match SpecSession::new(d.model, t.model, MAX_K) {
                    Ok(session) => return (Pair::Session { session, draft_tok: d.tokenizer, target_tok: t.tokenizer }, None),
                    // Unreachable after `check`, but an error never becomes a panic here.
                    Err(e) => return (Pair::Apart { draft: None, target: None }, Some(e.to_string())),
                },
            },
        };
        (Pair::Apart { draft: Some(d), target: Some(t) }, Some(problem))
    }
}

/// A model from the page's files: one GGUF, or an HF folder's parts.
fn model_file(files: &[File]) -> Result<ModelFile, String> {
    let named = |suffix: &str| files.iter().filter(|f| f.name().ends_with(suffix)).collect::<Vec<_>>();
    let source = |f: &File| BlobSource::new(f.clone().into(), &f.name());
    let gguf = named(".gguf");
    if gguf.len() == 1 {
        return ModelFile::from_gguf(Arc::new(source(gguf[0]))).map_err(|e| format!("{}: {e}", gguf[0].name()));
    }
    if gguf.len() > 1 {
        return Err("pick one .gguf file per model".into());
    }
    let text = |name: &str| -> Result<Option<String>, String> {
        match files.iter().find(|f| f.name() == name) {
            Some(f) => source(f).text().map(Some).map_err(|e| e.to_string()),
            None => Ok(None),
        }
    };
    let config = text("config.json")?.ok_or("pick a .gguf file, or an HF folder's config.json, tokenizer.json and *.safetensors")?;
    let mut shards = named(".safetensors");
    shards.sort_by_key(|f| f.name());
    let blobs: Vec<WeightBlob> = shards.iter().map(|f| Arc::new(source(f)) as WeightBlob).collect();
    if blobs.is_empty() {
        return Err("the HF folder has no *.safetensors file".into());
    }
    ModelFile::from_hf_parts(&config, text("tokenizer.json")?, text("tokenizer_config.json")?.as_deref(), blobs).map_err(|e| e.to_string())
}
