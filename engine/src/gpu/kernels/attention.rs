//! Causal GQA attention of the block's queries over the KV cache (shaders/attention.wgsl).

use super::check;
use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, ATTENTION, ATTENTION_SERIAL};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError};

pub struct AttentionArgs<'a> {
    pub q: &'a wgpu::Buffer,
    pub k_cache: &'a wgpu::Buffer,
    pub v_cache: &'a wgpu::Buffer,
    /// Scratch of max_tokens * n_head * ctx_len floats.
    pub scores: &'a wgpu::Buffer,
    pub out: &'a wgpu::Buffer,
    pub n_head: usize,
    pub n_kv: usize,
    pub head_dim: usize,
    pub ctx_len: usize,
    pub max_tokens: usize,
}

pub fn prepare(ctx: &GpuContext, a: AttentionArgs, step: &GpuBuffer) -> Result<Dispatch, GpuError> {
    check(a.head_dim % 4 == 0 && a.n_kv > 0 && a.n_head % a.n_kv == 0, || {
        format!("attention: head_dim {} / heads {} / kv heads {} do not fit", a.head_dim, a.n_head, a.n_kv)
    })?;
    check(a.scores.size() / 4 >= (a.max_tokens * a.n_head * a.ctx_len) as u64, || {
        "attention: score scratch too small".into()
    })?;
    let (key, body) = if ctx.cpu_shapes() { ("attention_serial", ATTENTION_SERIAL) } else { ("attention", ATTENTION) };
    let pipeline = ctx.pipeline(key, &assemble(body, None, &[]), &[Read, Read, Read, ReadWrite, ReadWrite, Uniform, Uniform])?;
    let scale = 1.0f32 / (a.head_dim as f32).sqrt();
    let params = GpuBuffer::uniform(
        ctx,
        "attention params",
        &[a.n_head as u32, a.n_kv as u32, a.head_dim as u32, a.ctx_len as u32, scale.to_bits(), 0, 0, 0],
    );
    Ok(Dispatch::new(
        ctx,
        "attention",
        pipeline,
        &[a.q, a.k_cache, a.v_cache, a.scores, a.out, &params.buffer.clone(), &step.buffer],
        Some(params),
        Grid::PerToken(a.n_head as u32),
    ))
}
