//! Causal GQA attention of the block's queries over the KV cache (shaders/attention.wgsl).

use super::check;
use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, ATTENTION, ATTENTION_SERIAL, ATTENTION_SUBGROUP};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError, MatmulVariant};

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

/// `slots`: per block token (region's first cache row, position), read when the step says the
/// block is slotted (token_slot.wgsl).
pub fn prepare(ctx: &GpuContext, a: AttentionArgs, step: &GpuBuffer, slots: &GpuBuffer) -> Result<Dispatch, GpuError> {
    check(a.head_dim % 4 == 0 && a.n_kv > 0 && a.n_head % a.n_kv == 0, || {
        format!("attention: head_dim {} / heads {} / kv heads {} do not fit", a.head_dim, a.n_head, a.n_kv)
    })?;
    check(a.scores.size() / 4 >= (a.max_tokens * a.n_head * a.ctx_len) as u64, || {
        "attention: score scratch too small".into()
    })?;
    // GPUs: a 64-invocation workgroup per (head, token); CPU adapters: one subgroup, or one
    // invocation without subgroups.
    let (key, source) = match ctx.matmul_variant() {
        MatmulVariant::Cooperative => ("attention".to_string(), assemble(ATTENTION, None, &[])),
        MatmulVariant::RowPerInvocation => ("attention_serial".to_string(), assemble(ATTENTION_SERIAL, None, &[])),
        MatmulVariant::RowPerInvocationSubgroup => {
            let s = ctx.subgroup_size.unwrap_or(8);
            (format!("attention_subgroup_{s}"), assemble(ATTENTION_SUBGROUP, None, &[("S", s)]))
        }
    };
    let pipeline = ctx.pipeline(&key, &source, &[Read, Read, Read, ReadWrite, ReadWrite, Uniform, Uniform, Read])?;
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
        &[a.q, a.k_cache, a.v_cache, a.scores, a.out, &params.buffer.clone(), &step.buffer, &slots.buffer],
        Some(params),
        Grid::PerToken(a.n_head as u32),
    ))
}
