//! Bias add + RoPE on q and k, and the KV-cache append (shaders/rope_store/rope_store.wgsl).

use super::check;
use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, ROPE_STORE};
use crate::gpu::kv_cache::{cache_access, cache_layout_access, CacheAccess, CacheStore, CACHE_LAYOUTS};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError, ShaderVariant};

/// How q/k rows are laid out for rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeMode {
    /// Rotate (2i, 2i+1): GGUF llama files (rows permuted by the converter).
    Adjacent,
    /// Rotate (i, i + d/2): HF checkpoints and qwen2 GGUF.
    Halves,
}

pub struct RopeArgs<'a> {
    /// Rows of [q | k | v] for the block's tokens.
    pub qkv: &'a wgpu::Buffer,
    /// Rotated q, [tokens][n_head * head_dim].
    pub q: &'a wgpu::Buffer,
    /// q, k, v biases concatenated (`has_bias`), then the per-head q and k norm gains
    /// (head_dim each, with `qk_norm`), or None when neither.
    pub bias: Option<&'a GpuBuffer>,
    pub has_bias: bool,
    /// RMS-normalize each q and k head and scale it by its gain before rotating (qwen3), with
    /// this epsilon.
    pub qk_norm: Option<f32>,
    /// Both in buffers or both in textures.
    pub k_cache: &'a CacheStore,
    pub v_cache: &'a CacheStore,
    pub rot_table: &'a GpuBuffer,
    pub n_head: usize,
    pub n_kv: usize,
    pub head_dim: usize,
    pub ctx_len: usize,
    pub mode: RopeMode,
    pub zero: &'a GpuBuffer,
}

/// The (cos, sin) table of every position below `ctx_len`, computed in f64.
/// `divisors` (head_dim / 2 of them, or empty for all 1) divide each frequency's angle: rope
/// scaling (`ModelConfig::rope_freq_divisors`).
pub fn rotation_table(ctx_len: usize, head_dim: usize, theta: f64, divisors: &[f32]) -> Vec<f32> {
    let half = head_dim / 2;
    let mut t = Vec::with_capacity(ctx_len * half * 2);
    for pos in 0..ctx_len {
        for i in 0..half {
            let freq = theta.powf(-2.0 * i as f64 / head_dim as f64) / divisors.get(i).copied().unwrap_or(1.0) as f64;
            let a = pos as f64 * freq;
            t.push(a.cos() as f32);
            t.push(a.sin() as f32);
        }
    }
    t
}

/// `slots`: per block token (region's first cache row, position), read when the step says the
/// block is slotted (token_slot.wgsl).
pub fn prepare(ctx: &GpuContext, a: RopeArgs, step: &GpuBuffer, slots: &GpuBuffer) -> Result<Dispatch, GpuError> {
    check(a.head_dim % 4 == 0 && a.n_kv > 0 && a.n_head % a.n_kv == 0, || {
        format!("rope: head_dim {} / heads {} / kv heads {} do not fit", a.head_dim, a.n_head, a.n_kv)
    })?;
    check(a.rot_table.len >= a.ctx_len * a.head_dim, || "rope: rotation table too small".into())?;
    let norm_base = if a.has_bias { (a.n_head + 2 * a.n_kv) * a.head_dim } else { 0 };
    let want = norm_base + if a.qk_norm.is_some() { 2 * a.head_dim } else { 0 };
    let have = a.bias.map(|b| b.len).unwrap_or(0);
    check(have == want, || format!("rope: bias and norm gains have {have} elements, {want} expected"))?;
    let cache = cache_access("rope", a.k_cache, a.v_cache, a.n_kv * a.ctx_len * a.head_dim, true)?;
    let pipeline = ctx.build(&variant(&cache, a.qk_norm.is_some()))?;
    let mode = match a.mode {
        RopeMode::Adjacent => 0,
        RopeMode::Halves => 1,
    };
    let params = GpuBuffer::uniform(
        ctx,
        "rope params",
        &[
            a.n_head as u32,
            a.n_kv as u32,
            a.head_dim as u32,
            a.ctx_len as u32,
            mode,
            a.qk_norm.unwrap_or(0.0).to_bits(),
            a.has_bias as u32,
            norm_base as u32,
        ],
    );
    let bias = a.bias.unwrap_or(a.zero);
    let pairs = ((a.n_head + a.n_kv) * a.head_dim / 2) as u32;
    let params_buffer = params.buffer.clone();
    Ok(Dispatch::with_resources(
        ctx,
        "rope_store",
        pipeline,
        &[
            a.qkv.as_entire_binding(),
            a.q.as_entire_binding(),
            bias.buffer.as_entire_binding(),
            a.k_cache.binding(),
            a.v_cache.binding(),
            a.rot_table.buffer.as_entire_binding(),
            params_buffer.as_entire_binding(),
            step.buffer.as_entire_binding(),
            slots.buffer.as_entire_binding(),
        ],
        Some(params),
        Grid::PerToken(pairs.div_ceil(64)),
    ))
}

/// The kernel for a cache reached through `cache`, with or without per-head Q/K norms.
fn variant(cache: &CacheAccess, qk_norm: bool) -> ShaderVariant {
    let qk_norm = qk_norm as u32;
    ShaderVariant::new(
        format!("rope_store{}_qknorm{qk_norm}", cache.key_suffix),
        assemble(&format!("{}\n{ROPE_STORE}", cache.source), None, &[("QK_NORM", qk_norm)]),
        &[Read, ReadWrite, Read, cache.kind, cache.kind, Read, Uniform, Uniform, Read],
    )
}

/// Every kernel `prepare` can build.
pub fn variants() -> Vec<ShaderVariant> {
    CACHE_LAYOUTS.iter().flat_map(|&(texture, kv_type)| [false, true].map(|n| variant(&cache_layout_access(texture, kv_type, true), n))).collect()
}
