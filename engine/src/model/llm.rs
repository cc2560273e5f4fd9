//! A decoder-only transformer on the GPU: weights uploaded once, every launch prepared at load
//! time, and a KV cache whose length is a number (truncation is O(1)).

use super::{ModelConfig, ModelError};
use crate::formats::ModelFile;
use crate::gpu::dispatch::{encode_pass, submit, Dispatch};
use crate::ops::matmul::{Input, MatmulArgs, Tokens};
use crate::ops::rope_store::{rotation_table, RopeArgs, RopeMode};
use crate::ops::sample::{SampleArgs, SamplingParams};
use crate::ops::{
    argmax, attention, embedding, gated_act, matmul, rmsnorm, rope_store, sample,
};
use crate::gpu::kv_cache::{CacheStore, KvType};
use crate::gpu::weight::WeightStore;
use crate::gpu::{GpuBuffer, GpuContext, GpuWeight, Step};
use std::sync::Arc;

mod sequences;
pub use sequences::SeqTokens;

#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    /// KV-cache capacity in tokens (0: the model's training context, capped at 4096).
    pub ctx_len: usize,
    /// Tokens per forward block (prompt chunks and verify blocks).
    pub max_block: usize,
    /// The KV cache's element type (None: the device's, `KvType::for_store`).
    pub kv_type: Option<KvType>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { ctx_len: 0, max_block: 32, kv_type: None }
    }
}

/// Which positions' logits a forward pass returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogitsRows {
    Last,
    All,
    /// No logits (a prefill).
    None,
}

struct Layer {
    _weights: Vec<GpuWeight>,
    /// attn_norm, ffn_norm, then the qkv bias if any.
    _buffers: Vec<GpuBuffer>,
    k_cache: CacheStore,
    v_cache: CacheStore,
}

pub struct Model {
    pub config: ModelConfig,
    pub ctx: Arc<GpuContext>,
    ctx_len: usize,
    max_block: usize,
    kv_type: KvType,
    len: usize,
    step: GpuBuffer,
    tokens: GpuBuffer,
    /// (region's first cache row, position) per block token of a slotted block (sequences.rs).
    slots: GpuBuffer,
    logits: GpuBuffer,
    next_token: GpuBuffer,
    sample_scratch: GpuBuffer,
    rng: GpuBuffer,
    body: Vec<Dispatch>,
    argmax: Dispatch,
    sampler: Option<(SamplingParams, Dispatch)>,
    gpu_bytes: u64,
    _layers: Vec<Layer>,
    _keep: Vec<GpuBuffer>,
    _keep_weights: Vec<GpuWeight>,
}

fn matrix(f: &ModelFile, ctx: &GpuContext, name: &str, rows: usize, cols: usize) -> Result<GpuWeight, ModelError> {
    let t = f.require(name)?;
    if t.shape != [rows, cols] {
        return Err(ModelError::Invalid(format!("{name} has shape {:?}, expected [{rows}, {cols}]", t.shape)));
    }
    Ok(GpuWeight::upload(ctx, name, t.dtype, rows, cols, &f.tensor_bytes(name)?)?)
}

/// Matrices that share an input, as products writing side by side into one output row: one
/// stacked upload (one launch) when their types match, else one weight each at its column.
fn stacked(f: &ModelFile, ctx: &GpuContext, names: &[(String, usize)], cols: usize) -> Result<Vec<(GpuWeight, usize)>, ModelError> {
    let infos = names.iter().map(|(n, rows)| {
        let t = f.require(n)?;
        if t.shape != [*rows, cols] {
            return Err(ModelError::Invalid(format!("{n} has shape {:?}, expected [{rows}, {cols}]", t.shape)));
        }
        Ok(t)
    }).collect::<Result<Vec<_>, ModelError>>()?;
    if infos.iter().all(|t| t.dtype == infos[0].dtype) {
        let mut bytes = Vec::new();
        for (n, _) in names {
            bytes.extend_from_slice(&f.tensor_bytes(n)?);
        }
        let rows: usize = names.iter().map(|(_, r)| r).sum();
        let label = names.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join("+");
        return Ok(vec![(GpuWeight::upload(ctx, &label, infos[0].dtype, rows, cols, &bytes)?, 0)]);
    }
    let mut col = 0;
    let mut out = Vec::new();
    for (n, rows) in names {
        out.push((matrix(f, ctx, n, *rows, cols)?, col));
        col += rows;
    }
    Ok(out)
}

fn vector(f: &ModelFile, name: &str, n: usize) -> Result<Vec<f32>, ModelError> {
    let t = f.require(name)?;
    if t.elems() != n || t.shape.len() != 1 {
        return Err(ModelError::Invalid(format!("{name} has shape {:?}, expected [{n}]", t.shape)));
    }
    Ok(f.tensor_f32(name)?)
}

impl Model {
    /// Uploads the weights and prepares every launch. `progress(done, total)` counts bytes.
    /// A device that runs out of memory on the way is an error that says what to lower.
    pub fn load(
        ctx: Arc<GpuContext>,
        file: &ModelFile,
        opts: &LoadOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Model, ModelError> {
        let weights_mib = file.tensors.values().map(|(_, t)| t.size).sum::<u64>() >> 20;
        let what = format!(
            "while loading a model of {weights_mib} MiB of weights (context {}, blocks of {} tokens): lower the context length or block size, or use a smaller model",
            if opts.ctx_len == 0 { "the model's".to_string() } else { opts.ctx_len.to_string() },
            opts.max_block
        );
        ctx.clone().allocating(&what, || Self::load_unchecked(ctx, file, opts, progress))?
    }

    fn load_unchecked(
        ctx: Arc<GpuContext>,
        file: &ModelFile,
        opts: &LoadOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Model, ModelError> {
        let c = ModelConfig::from_file(file)?;
        let ctx_len = if opts.ctx_len == 0 { c.train_ctx.min(4096) } else { opts.ctx_len };
        if ctx_len == 0 || ctx_len > 1 << 20 {
            return Err(ModelError::Invalid(format!("context length {ctx_len} out of range")));
        }
        let mb = opts.max_block.max(1);
        if mb > 512 {
            return Err(ModelError::Invalid(format!("block size {mb} out of range (1..=512)")));
        }
        // The KV cache goes where the weights go: textures on CPU adapters (kv_cache.rs).
        let kv_in_textures = ctx.weight_store() == WeightStore::Texture;
        let kv_type = opts.kv_type.unwrap_or(KvType::for_store(kv_in_textures));
        // The largest activation buffers must each fit one storage binding of this device.
        let limit = ctx.max_binding_bytes();
        for (what, bytes) in [
            ("attention scores (block x heads x context)", attention::score_rows(&ctx, mb) * c.n_head * ctx_len * 4),
            ("logits (block x vocabulary)", mb * c.vocab * 4),
            ("KV cache of one layer", c.n_kv * ctx_len * c.head_dim * kv_type.bytes()),
            ("FFN activations", mb * 2 * c.ffn * 4),
        ] {
            if bytes as u64 > limit {
                return Err(ModelError::Invalid(format!(
                    "{what} would take {} MiB, more than this device's {} MiB storage binding: lower the context length or block size",
                    bytes as u64 >> 20,
                    limit >> 20
                )));
            }
        }
        let total: u64 = file.tensors.values().map(|(_, t)| t.size).sum();
        let mut done = 0u64;
        let mut tick = |f: &ModelFile, names: &[&str], progress: &mut dyn FnMut(u64, u64)| {
            for n in names {
                if let Some(t) = f.tensor(n) {
                    done += t.size;
                }
            }
            progress(done, total);
        };
        let g = ctx.as_ref();
        let (h, qw, kvw, ffn) = (c.hidden, c.q_width(), c.kv_width(), c.ffn);
        let step = GpuBuffer::uniform(g, "step", &Step::default().words());
        let tokens = GpuBuffer::zeros(g, "tokens", mb);
        let slots = GpuBuffer::zeros(g, "token slots", 2 * mb);
        let hidden = GpuBuffer::zeros(g, "hidden", mb * h);
        let xn = GpuBuffer::zeros(g, "normed", mb * h);
        let qkv_w = qw + 2 * kvw;
        let qkv = GpuBuffer::zeros(g, "qkv", mb * qkv_w);
        let q = GpuBuffer::zeros(g, "q", mb * qw);
        let attn = GpuBuffer::zeros(g, "attn", mb * qw);
        let gate_up = GpuBuffer::zeros(g, "gate_up", mb * 2 * ffn);
        let act = GpuBuffer::zeros(g, "act", mb * ffn);
        let scores = GpuBuffer::zeros(g, "scores", attention::score_rows(g, mb) * c.n_head * ctx_len);
        let logits = GpuBuffer::zeros(g, "logits", mb * c.vocab);
        let next_token = GpuBuffer::zeros(g, "next token", mb);
        let sample_scratch = GpuBuffer::zeros(g, "sample scratch", c.vocab);
        let rng = GpuBuffer::zeros(g, "rng", 1);
        let zero = GpuBuffer::zeros(g, "zero", 4);
        let rot = GpuBuffer::from_f32(g, "rope table", &rotation_table(ctx_len, c.head_dim, c.rope_theta, &c.rope_freq_divisors));
        // Sliding-window layers rotate with their own base, unscaled (llama.cpp's freq_base_swa).
        let rot_local = c.swa_layers.contains(&true).then(|| {
            GpuBuffer::from_f32(g, "local rope table", &rotation_table(ctx_len, c.head_dim, c.rope_theta_swa, &vec![1.0; c.head_dim / 2]))
        });
        // A branch's output before its norm joins the residual (post-norm architectures).
        let branch = GpuBuffer::zeros(g, "branch", if c.post_norms { mb * h } else { 1 });
        let mode = if c.rope_halves { RopeMode::Halves } else { RopeMode::Adjacent };

        let embd = matrix(file, g, "token_embd.weight", c.vocab, h)?;
        tick(file, &["token_embd.weight"], progress);
        let mut body = embedding::prepare(g, &embd, &tokens.buffer, &hidden.buffer, c.embed_scale, mb, &step)?;
        let mut layers = Vec::with_capacity(c.n_layer);
        let mm = |w: &GpuWeight, x: &GpuBuffer, input: Input, y: &GpuBuffer, y_stride: usize, y_col: usize, acc: bool| {
            matmul::prepare(
                g,
                MatmulArgs { weight: w, x: &x.buffer, y: &y.buffer, y_stride, y_col, accumulate: acc, tokens: Tokens::All, max_tokens: mb, input },
                &step,
            )
        };
        // CPU adapters fold RMSNorm and the SiLU gate into the products' input stage (a launch
        // costs more there than recomputing a norm per invocation); GPUs run them as kernels.
        let fuse = ctx.cpu_shapes();
        let fuse_gate = fuse && c.gate == gated_act::Gate::Silu;
        let cache_len = c.n_kv * ctx_len * c.head_dim;
        let kv_texture = kv_in_textures && CacheStore::texture_fits(g, cache_len, kv_type);
        for l in 0..c.n_layer {
            let n = |s: &str| format!("blk.{l}.{s}");
            let attn_norm = GpuBuffer::from_f32(g, "attn_norm", &vector(file, &n("attn_norm.weight"), h)?);
            let ffn_norm = GpuBuffer::from_f32(g, "ffn_norm", &vector(file, &n("ffn_norm.weight"), h)?);
            let wqkv = stacked(file, g, &[(n("attn_q.weight"), qw), (n("attn_k.weight"), kvw), (n("attn_v.weight"), kvw)], h)?;
            let wo = matrix(file, g, &n("attn_output.weight"), h, qw)?;
            let wgu = stacked(file, g, &[(n("ffn_gate.weight"), ffn), (n("ffn_up.weight"), ffn)], h)?;
            let wd = matrix(file, g, &n("ffn_down.weight"), h, ffn)?;
            // QKV biases, then the per-head q and k norm gains: what rope_store adds and
            // scales by before rotating.
            let mut per_head = Vec::new();
            if c.qkv_bias {
                per_head.extend(vector(file, &n("attn_q.bias"), qw)?);
                per_head.extend(vector(file, &n("attn_k.bias"), kvw)?);
                per_head.extend(vector(file, &n("attn_v.bias"), kvw)?);
            }
            if c.qk_norm {
                per_head.extend(vector(file, &n("attn_q_norm.weight"), c.head_dim)?);
                per_head.extend(vector(file, &n("attn_k_norm.weight"), c.head_dim)?);
            }
            let bias = (!per_head.is_empty()).then(|| GpuBuffer::from_f32(g, "qkv bias and norms", &per_head));
            let post_norms = if c.post_norms {
                Some((
                    GpuBuffer::from_f32(g, "post_attention_norm", &vector(file, &n("post_attention_norm.weight"), h)?),
                    GpuBuffer::from_f32(g, "post_ffw_norm", &vector(file, &n("post_ffw_norm.weight"), h)?),
                ))
            } else {
                None
            };
            let local = c.swa_layers[l];
            let k_cache = CacheStore::zeros(g, "k cache", cache_len, kv_type, kv_texture)?;
            let v_cache = CacheStore::zeros(g, "v cache", cache_len, kv_type, kv_texture)?;

            let attn_in = if fuse {
                (&hidden, Input::RmsNorm { gain: &attn_norm, eps: c.rms_eps })
            } else {
                body.push(rmsnorm::prepare(g, &hidden.buffer, &attn_norm, &xn.buffer, h, c.rms_eps, false, mb, &step)?);
                (&xn, Input::Plain)
            };
            for (w, col) in &wqkv {
                body.extend(mm(w, attn_in.0, attn_in.1, &qkv, qkv_w, *col, false)?);
            }
            body.push(rope_store::prepare(
                g,
                RopeArgs {
                    qkv: &qkv.buffer,
                    q: &q.buffer,
                    bias: bias.as_ref(),
                    has_bias: c.qkv_bias,
                    qk_norm: c.qk_norm.then_some(c.rms_eps),
                    k_cache: &k_cache,
                    v_cache: &v_cache,
                    rot_table: if local { rot_local.as_ref().unwrap_or(&rot) } else { &rot },
                    n_head: c.n_head,
                    n_kv: c.n_kv,
                    head_dim: c.head_dim,
                    ctx_len,
                    mode,
                    zero: &zero,
                },
                &step,
                &slots,
            )?);
            body.push(attention::prepare(
                g,
                attention::AttentionArgs {
                    q: &q.buffer,
                    k_cache: &k_cache,
                    v_cache: &v_cache,
                    scores: &scores.buffer,
                    out: &attn.buffer,
                    n_head: c.n_head,
                    n_kv: c.n_kv,
                    head_dim: c.head_dim,
                    ctx_len,
                    max_tokens: mb,
                    window: if local { c.sliding_window } else { 0 },
                },
                &step,
                &slots,
            )?);
            // A branch's output goes onto the residual, through its norm when there is one.
            let onto_residual = |body: &mut Vec<Dispatch>, norm: Option<&GpuBuffer>| -> Result<(), ModelError> {
                if let Some(gain) = norm {
                    body.push(rmsnorm::prepare_add(g, &branch.buffer, gain, &hidden.buffer, h, c.rms_eps, mb, &step)?);
                }
                Ok(())
            };
            let (out, acc) = if c.post_norms { (&branch, false) } else { (&hidden, true) };
            body.extend(mm(&wo, &attn, Input::Plain, out, h, 0, acc)?);
            onto_residual(&mut body, post_norms.as_ref().map(|p| &p.0))?;
            let ffn_in = if fuse {
                (&hidden, Input::RmsNorm { gain: &ffn_norm, eps: c.rms_eps })
            } else {
                body.push(rmsnorm::prepare(g, &hidden.buffer, &ffn_norm, &xn.buffer, h, c.rms_eps, false, mb, &step)?);
                (&xn, Input::Plain)
            };
            for (w, col) in &wgu {
                body.extend(mm(w, ffn_in.0, ffn_in.1, &gate_up, 2 * ffn, *col, false)?);
            }
            if fuse_gate {
                body.extend(mm(&wd, &gate_up, Input::SiluGate, out, h, 0, acc)?);
            } else {
                body.push(gated_act::prepare(g, c.gate, &gate_up.buffer, &act.buffer, ffn, &step)?);
                body.extend(mm(&wd, &act, Input::Plain, out, h, 0, acc)?);
            }
            onto_residual(&mut body, post_norms.as_ref().map(|p| &p.1))?;
            let mut bufs = vec![attn_norm, ffn_norm];
            bufs.extend(post_norms.into_iter().flat_map(|(a, b)| [a, b]));
            bufs.extend(bias);
            let mut weights: Vec<GpuWeight> = wqkv.into_iter().chain(wgu).map(|(w, _)| w).collect();
            weights.extend([wo, wd]);
            layers.push(Layer { _weights: weights, _buffers: bufs, k_cache, v_cache });
            let names: Vec<String> = [
                "attn_norm.weight", "ffn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
                "attn_output.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
                "attn_q.bias", "attn_k.bias", "attn_v.bias", "attn_q_norm.weight", "attn_k_norm.weight",
                "post_attention_norm.weight", "post_ffw_norm.weight",
            ]
            .iter()
            .map(|s| n(s))
            .collect();
            let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            tick(file, &refs, progress);
        }
        let out_norm = GpuBuffer::from_f32(g, "output_norm", &vector(file, "output_norm.weight", h)?);
        body.push(rmsnorm::prepare(g, &hidden.buffer, &out_norm, &xn.buffer, h, c.rms_eps, true, mb, &step)?);
        let mut keep_weights = Vec::new();
        let head = if c.tied_output { None } else { Some(matrix(file, g, "output.weight", c.vocab, h)?) };
        let head_args = MatmulArgs {
            weight: head.as_ref().unwrap_or(&embd),
            x: &xn.buffer,
            y: &logits.buffer,
            y_stride: c.vocab,
            y_col: 0,
            accumulate: false,
            tokens: Tokens::LogitsRows,
            max_tokens: mb,
            input: Input::Plain,
        };
        body.extend(matmul::prepare(g, head_args, &step)?);
        keep_weights.extend(head);
        tick(file, &["output_norm.weight", "output.weight"], progress);
        let argmax = argmax::prepare(g, &logits.buffer, &next_token.buffer, c.vocab, 0, &step)?;
        keep_weights.push(embd);
        let gpu_bytes = keep_weights.iter().map(|w| w.gpu_bytes()).sum::<u64>()
            + layers.iter().flat_map(|l| l._weights.iter()).map(|w| w.gpu_bytes()).sum::<u64>();
        progress(total, total);
        Ok(Model {
            config: c,
            ctx: ctx.clone(),
            ctx_len,
            max_block: mb,
            kv_type,
            len: 0,
            step,
            tokens,
            slots,
            logits,
            next_token,
            sample_scratch,
            rng,
            body,
            argmax,
            sampler: None,
            gpu_bytes,
            _layers: layers,
            _keep: [hidden, xn, qkv, q, attn, gate_up, act, scores, zero, rot, out_norm, branch].into_iter().chain(rot_local).collect(),
            _keep_weights: keep_weights,
        })
    }

    /// Tokens in the KV cache.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn ctx_len(&self) -> usize {
        self.ctx_len
    }

    pub fn max_block(&self) -> usize {
        self.max_block
    }

    /// The KV cache's element type.
    pub fn kv_type(&self) -> KvType {
        self.kv_type
    }

    /// KV-cache bytes a cached token takes over all layers.
    pub fn kv_bytes_per_token(&self) -> u64 {
        let c = &self.config;
        (c.n_layer * 2 * c.n_kv * c.head_dim * self.kv_type.bytes()) as u64
    }

    /// Bytes of weights held on the GPU.
    pub fn gpu_weight_bytes(&self) -> u64 {
        self.gpu_bytes
    }

    /// Forgets every cached position from `len` on. O(1): later writes overwrite them.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Launches per forward block (for statistics).
    pub fn dispatches_per_block(&self) -> usize {
        self.body.len()
    }

    fn check_tokens(&self, tokens: &[u32]) -> Result<(), ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::Invalid("a forward pass needs at least one token".into()));
        }
        if self.len + tokens.len() > self.ctx_len {
            return Err(ModelError::ContextFull { have: self.len, adding: tokens.len(), ctx: self.ctx_len });
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.config.vocab) {
            return Err(ModelError::BadToken(bad, self.config.vocab));
        }
        Ok(())
    }

    /// The launches of one block of `m` tokens with `m_logits` logits rows, then `pick`.
    fn block_launches(&self, m_logits: usize, pick: Pick) -> Vec<&Dispatch> {
        let mut list: Vec<&Dispatch> = self.body.iter().collect();
        if m_logits == 0 {
            // The final norm and output head have nothing to do.
            list.truncate(list.len() - self.head_launches());
        }
        match pick {
            Pick::Nothing => {}
            Pick::Argmax => list.push(&self.argmax),
            Pick::Sample => list.extend(self.sampler.as_ref().map(|(_, d)| d)),
        }
        list
    }

    /// Runs `tokens` through the model in blocks, appending them to the cache, with the
    /// `pick` launch (argmax or sampling) after the last block.
    fn append_blocks(&mut self, tokens: &[u32], rows: LogitsRows, pick: Pick) -> Result<(), ModelError> {
        self.check_tokens(tokens)?;
        let n_chunks = tokens.len().div_ceil(self.max_block);
        for (i, chunk) in tokens.chunks(self.max_block).enumerate() {
            let last = i + 1 == n_chunks;
            let m = chunk.len();
            let m_logits = match rows {
                LogitsRows::All => m,
                LogitsRows::Last if last => 1,
                LogitsRows::Last | LogitsRows::None => 0,
            };
            self.tokens.write_u32(&self.ctx, 0, chunk);
            self.step.write_u32(&self.ctx, 0, &Step::one_sequence(m, self.len, m_logits).words());
            let list = self.block_launches(m_logits, if last { pick } else { Pick::Nothing });
            submit(&self.ctx, &list, m as u32, m_logits as u32)?;
            self.len += m;
        }
        Ok(())
    }

    /// Appends `tokens` to the cache without computing logits (a prompt before decoding).
    pub fn prefill(&mut self, tokens: &[u32]) -> Result<(), ModelError> {
        if tokens.is_empty() {
            return Ok(());
        }
        self.append_blocks(tokens, LogitsRows::None, Pick::Nothing)
    }

    /// Records one block as a compute pass of `enc`, for callers that chain passes in one
    /// submission. The block's tokens and `Step` values must be in place when it runs (written
    /// or copied into `tokens_buffer` and `step_buffer`); the caller accounts for the cache
    /// length with `set_len`.
    pub(crate) fn encode_block(&self, enc: &mut wgpu::CommandEncoder, m: usize, m_logits: usize, pick: Pick) {
        let list = self.block_launches(m_logits, pick);
        encode_pass(&self.ctx, enc, &list, m as u32, m_logits as u32);
    }

    pub(crate) fn tokens_buffer(&self) -> &GpuBuffer {
        &self.tokens
    }

    pub(crate) fn step_buffer(&self) -> &GpuBuffer {
        &self.step
    }

    pub(crate) fn logits_buffer(&self) -> &GpuBuffer {
        &self.logits
    }

    pub(crate) fn next_token_buffer(&self) -> &GpuBuffer {
        &self.next_token
    }

    /// Sets the cached length after chained passes recorded with `encode_block`.
    pub(crate) fn set_len(&mut self, len: usize) {
        debug_assert!(len <= self.ctx_len);
        self.len = len.min(self.ctx_len);
    }

    /// Prepares the sampling launch for `sampling` and restarts its draw counter.
    pub(crate) fn prepare_sampler(&mut self, sampling: &SamplingParams) -> Result<(), ModelError> {
        let d = sample::prepare(
            &self.ctx,
            SampleArgs {
                logits: &self.logits.buffer,
                scratch: &self.sample_scratch.buffer,
                out: &self.next_token.buffer,
                rng: &self.rng.buffer,
                vocab: self.config.vocab,
                row: 0,
                out_offset: 0,
            },
            *sampling,
        )?;
        self.rng.write_u32(&self.ctx, 0, &[0]);
        self.sampler = Some((*sampling, d));
        Ok(())
    }

    fn head_launches(&self) -> usize {
        // final rmsnorm + one matmul per part of the output matrix
        let out_parts = self.body.iter().rev().take_while(|d| d.label == "matmul").count();
        1 + out_parts
    }

    /// Time per pass spent in each kernel, for a block of `m` tokens at cache length `at`
    /// (each kernel's launches run alone, `reps` times). The cache is left as it was.
    pub async fn profile(&mut self, m: usize, at: usize, reps: usize) -> Result<Vec<(&'static str, f64)>, ModelError> {
        let m = m.clamp(1, self.max_block);
        if at + m > self.ctx_len {
            return Err(ModelError::ContextFull { have: at, adding: m, ctx: self.ctx_len });
        }
        self.tokens.write_u32(&self.ctx, 0, &vec![0u32; m]);
        self.step.write_u32(&self.ctx, 0, &Step::one_sequence(m, at, 1).words());
        let mut labels: Vec<&'static str> = Vec::new();
        for d in &self.body {
            if !labels.contains(&d.label) {
                labels.push(d.label);
            }
        }
        let mut out = Vec::new();
        for label in labels {
            let list: Vec<&Dispatch> = self.body.iter().filter(|d| d.label == label).collect();
            let mut times = Vec::new();
            for _ in 0..reps.max(1) + 1 {
                let t = web_time::Instant::now();
                submit(&self.ctx, &list, m as u32, 1)?;
                self.ctx.read_f32(&self.logits.buffer, 0, 1).await?;
                times.push(t.elapsed().as_secs_f64());
            }
            times.remove(0);
            times.sort_by(|a, b| a.total_cmp(b));
            out.push((label, times[times.len() / 2]));
        }
        Ok(out)
    }

    /// Wall time of one whole forward block of `m` tokens at cache length `at` (every
    /// position's logits, as a verify block computes), median of `reps` after a warm-up.
    /// The cache is left as it was.
    pub async fn pass_seconds(&mut self, m: usize, at: usize, reps: usize) -> Result<f64, ModelError> {
        let m = m.clamp(1, self.max_block);
        if at + m > self.ctx_len {
            return Err(ModelError::ContextFull { have: at, adding: m, ctx: self.ctx_len });
        }
        self.tokens.write_u32(&self.ctx, 0, &vec![0u32; m]);
        self.step.write_u32(&self.ctx, 0, &Step::one_sequence(m, at, m).words());
        let list = self.block_launches(m, Pick::Argmax);
        let mut times = Vec::new();
        for _ in 0..reps.max(1) + 1 {
            let t = web_time::Instant::now();
            submit(&self.ctx, &list, m as u32, m as u32)?;
            self.ctx.read_u32(&self.next_token.buffer, 0, 1).await?;
            times.push(t.elapsed().as_secs_f64());
        }
        times.remove(0);
        times.sort_by(|a, b| a.total_cmp(b));
        Ok(times[times.len() / 2])
    }

    /// Appends `tokens` and returns their logits: the last position's, or every position's
    /// (row-major [positions, vocab]).
    pub async fn forward(&mut self, tokens: &[u32], rows: LogitsRows) -> Result<Vec<f32>, ModelError> {
        let vocab = self.config.vocab;
        if rows == LogitsRows::None {
            self.prefill(tokens)?;
            return Ok(Vec::new());
        }
        if rows == LogitsRows::Last {
            self.append_blocks(tokens, rows, Pick::Nothing)?;
            return Ok(self.ctx.read_f32(&self.logits.buffer, 0, vocab as u64).await?);
        }
        let mut out = Vec::with_capacity(tokens.len() * vocab);
        for chunk in tokens.chunks(self.max_block) {
            self.append_blocks(chunk, rows, Pick::Nothing)?;
            out.extend(self.ctx.read_f32(&self.logits.buffer, 0, (chunk.len() * vocab) as u64).await?);
        }
        Ok(out)
    }

    /// Appends `tokens` and returns the next token: greedy argmax on the GPU, or a GPU sample.
    /// One 4-byte read-back.
    pub async fn forward_next(&mut self, tokens: &[u32], sampling: &SamplingParams) -> Result<u32, ModelError> {
        if sampling.is_greedy() {
            self.append_blocks(tokens, LogitsRows::Last, Pick::Argmax)?;
        } else {
            if self.sampler.as_ref().map(|(p, _)| p != sampling).unwrap_or(true) {
                self.prepare_sampler(sampling)?;
            }
            self.append_blocks(tokens, LogitsRows::Last, Pick::Sample)?;
        }
        let t = self.ctx.read_u32(&self.next_token.buffer, 0, 1).await?;
        Ok(t[0])
    }
}

/// What follows a block: nothing, a greedy pick, or a sampled pick (into the next-token buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    Nothing,
    Argmax,
    Sample,
}
