//! The `run`, `info` and `adapters` commands.

use crate::SamplingArgs;
use anyhow::{Context, Result};
use cospec::decode::{generate, GenerateOptions, SamplingParams};
use cospec::formats::ModelFile;
use cospec::gpu::{GpuContext, GpuOptions};
use cospec::model::{KvType, LoadOptions, Model, ModelConfig};
use cospec::tokenizer::{ChatMessage, Tokenizer};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};

pub fn open(path: &Path) -> Result<ModelFile> {
    cospec::platform::open_model(path).with_context(|| format!("loading {}", path.display()))
}

pub fn gpu(opts: &GpuOptions) -> Result<Arc<GpuContext>> {
    Ok(pollster::block_on(GpuContext::new(opts))?)
}

/// The KV cache type every model of this process takes (`--kv-type`; None: the device's).
static KV_TYPE: OnceLock<Option<KvType>> = OnceLock::new();

pub fn set_kv_type(t: Option<KvType>) {
    let _ = KV_TYPE.set(t);
}

/// Uploads a model with a progress bar on stderr, its KV cache of `--kv-type`.
pub fn load(ctx: Arc<GpuContext>, file: &ModelFile, opts: &LoadOptions) -> Result<Model> {
    let opts = &LoadOptions { kv_type: KV_TYPE.get().copied().flatten(), ..*opts };
    let bar = ProgressBar::new(file.file_bytes);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {elapsed}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message("uploading weights");
    let model = Model::load(ctx, file, opts, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    let kv = model.kv_bytes_per_token();
    eprintln!(
        "context: {} tokens (trained for {}), KV cache {} {:.1} MiB ({:.1} KiB a token)",
        model.ctx_len(),
        model.config.train_ctx,
        model.kv_type().name(),
        (kv * model.ctx_len() as u64) as f64 / (1 << 20) as f64,
        kv as f64 / 1024.0
    );
    if model.config.train_ctx > 0 && model.ctx_len() > model.config.train_ctx {
        // Positions past training are allowed (llama.cpp warns the same way), rarely useful.
        eprintln!(
            "warning: a context of {} tokens is past the {} this model was trained for: text beyond that may degrade",
            model.ctx_len(),
            model.config.train_ctx
        );
    }
    Ok(model)
}

pub fn sampling(s: &SamplingArgs) -> SamplingParams {
    SamplingParams { temperature: s.temperature, top_k: s.top_k, top_p: s.top_p, seed: s.seed }
}

pub fn run(
    gpu_opts: &GpuOptions,
    path: &Path,
    prompt: &str,
    chat: bool,
    max_tokens: usize,
    ctx_len: usize,
    sampling_args: &SamplingArgs,
) -> Result<()> {
    let file = open(path)?;
    let tok = Tokenizer::from_model_file(&file)?;
    let ctx = gpu(gpu_opts)?;
    let mut model = load(ctx, &file, &LoadOptions { ctx_len, ..Default::default() })?;
    let text = if chat {
        tok.apply_chat_template(&[ChatMessage::new("user", prompt)], true)?
    } else {
        prompt.to_string()
    };
    let ids = tok.encode(&text)?;
    if !chat {
        print!("{prompt}");
    }
    let opts = GenerateOptions { max_tokens, sampling: sampling(sampling_args), stop_at_eos: true };
    let mut stdout = std::io::stdout();
    let out = pollster::block_on(generate(&mut model, &tok, &ids, &opts, &mut |piece| {
        print!("{piece}");
        let _ = stdout.flush();
    }))?;
    println!();
    let s = &out.stats;
    if !s.stopped_at_eos && s.generated_tokens < max_tokens && s.prompt_tokens + s.generated_tokens >= model.ctx_len() {
        eprintln!(
            "stopped: the context of {} tokens is full; --ctx takes up to the model's trained {}",
            model.ctx_len(),
            model.config.train_ctx
        );
    }
    eprintln!(
        "prompt: {} tokens, {:.1} tok/s | decode: {} tokens, {:.2} tok/s{}",
        s.prompt_tokens,
        s.prompt_tok_per_s(),
        s.generated_tokens,
        s.decode_tok_per_s(),
        if s.stopped_at_eos { " (end of turn)" } else { "" }
    );
    Ok(())
}

pub fn info(gpu_opts: &GpuOptions, path: &Path) -> Result<()> {
    let file = open(path)?;
    let c = ModelConfig::from_file(&file)?;
    println!("file:          {}", path.display());
    println!("format:        {:?}", file.kind);
    println!("architecture:  {}", c.arch.name());
    if let Some(name) = file.meta_str("general.name") {
        println!("name:          {name}");
    }
    println!(
        "shape:         {} layers, hidden {}, FFN {}, {} heads / {} KV heads (head dim {}), vocab {}",
        c.n_layer, c.hidden, c.ffn, c.n_head, c.n_kv, c.head_dim, c.vocab
    );
    println!(
        "rope:          theta {}, {} | rms eps {:e} | output {} | QKV bias {}",
        c.rope_theta,
        if c.rope_halves { "half-split pairs" } else { "adjacent pairs (GGUF llama)" },
        c.rms_eps,
        if c.tied_output { "tied to the embedding" } else { "separate" },
        if c.qkv_bias { "yes" } else { "no" }
    );
    println!("context:       {} (trained)", c.train_ctx);
    let types: Vec<String> = file.type_histogram().iter().map(|(t, n)| format!("{t} x{n}")).collect();
    println!("tensor types:  {}", types.join(", "));
    println!("size:          {:.1} MiB in {} tensors", file.file_bytes as f64 / (1 << 20) as f64, file.tensors.len());
    match Tokenizer::from_model_file(&file) {
        Ok(t) => println!(
            "tokenizer:     {} tokens, pre-tokenizer {}, chat template {}",
            t.vocab_size(),
            file.meta_str("tokenizer.ggml.pre").unwrap_or("tokenizer.json"),
            if t.has_chat_template() { "yes".to_string() } else { format!("no ({} used)", t.fallback_template_name()) }
        ),
        Err(e) => println!("tokenizer:     unusable: {e}"),
    }
    match gpu(gpu_opts) {
        Ok(ctx) => {
            println!("adapter:       {}", ctx.adapter);
            println!(
                "limits:        {} MiB per storage binding, {} MiB per buffer",
                ctx.limits.max_storage_buffer_binding_size >> 20,
                ctx.limits.max_buffer_size >> 20
            );
        }
        Err(e) => println!("adapter:       none usable: {e}"),
    }
    Ok(())
}

pub fn score(gpu_opts: &GpuOptions, path: &Path, tokens_path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(tokens_path).with_context(|| format!("reading {}", tokens_path.display()))?;
    let ids: Vec<u32> = serde_json::from_str(&text).with_context(|| format!("{} is not a JSON array of token ids", tokens_path.display()))?;
    let file = open(path)?;
    let ctx = gpu(gpu_opts)?;
    let mut model = load(ctx, &file, &LoadOptions { ctx_len: ids.len().max(16), ..Default::default() })?;
    let vocab = model.config.vocab;
    let logits = pollster::block_on(model.forward(&ids, cospec::model::LogitsRows::All))?;
    let top1: Vec<usize> = logits
        .chunks(vocab)
        .map(|row| row.iter().enumerate().fold(0, |b, (i, v)| if *v > row[b] { i } else { b }))
        .collect();
    println!("{}", serde_json::json!({ "top1": top1 }));
    Ok(())
}

pub fn adapters(gpu_opts: &GpuOptions) -> Result<()> {
    let backends = cospec::gpu::context::parse_backends(gpu_opts.backend.as_deref())?;
    let list = pollster::block_on(cospec::gpu::context::list_adapters(backends));
    if list.is_empty() {
        println!("no adapters found");
    }
    for (i, a) in list.iter().enumerate() {
        println!("{i}: {a}");
    }
    // The one every other command would open with these options.
    match pollster::block_on(cospec::gpu::GpuContext::new(gpu_opts)) {
        Ok(ctx) => println!("picked: {}", ctx.adapter),
        Err(e) => println!("picked: none ({e})"),
    }
    Ok(())
}
