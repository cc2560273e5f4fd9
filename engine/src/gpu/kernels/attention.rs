//! Causal GQA attention of the block's queries over the KV cache (shaders/attention.wgsl).

use super::check;
use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, ATTENTION, ATTENTION_SERIAL, ATTENTION_SUBGROUP};
use crate::gpu::kv_cache::{cache_access, CacheStore};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError, MatmulVariant};

pub struct AttentionArgs<'a> {
    pub q: &'a wgpu::Buffer,
    /// Both in buffers or both in textures.
    pub k_cache: &'a CacheStore,
    pub v_cache: &'a CacheStore,
    /// Scratch of max_tokens * n_head * ctx_len floats.
    pub scores: &'a wgpu::Buffer,
    pub out: &'a wgpu::Buffer,
    pub n_head: usize,
    pub n_kv: usize,
    pub head_dim: usize,
    pub ctx_len: usize,
    pub max_tokens: usize,
}

/// The widest head the CPU-adapter kernels take (twice the widest in common models).
pub const MAX_CPU_HEAD_DIM: usize = 512;

/// `slots`: per block token (region's first cache row, position), read when the step says the
/// block is slotted (token_slot.wgsl).
pub fn prepare(ctx: &GpuContext, a: AttentionArgs, step: &GpuBuffer, slots: &GpuBuffer) -> Result<Dispatch, GpuError> {
    check(a.head_dim % 4 == 0 && a.n_kv > 0 && a.n_head % a.n_kv == 0, || {
        format!("attention: head_dim {} / heads {} / kv heads {} do not fit", a.head_dim, a.n_head, a.n_kv)
    })?;
    check(a.scores.size() / 4 >= (a.max_tokens * a.n_head * a.ctx_len) as u64, || {
        "attention: score scratch too small".into()
    })?;
    let cache = cache_access("attention", a.k_cache, a.v_cache, a.n_kv * a.ctx_len * a.head_dim, false)?;
    // The CPU shapes hold a query head in registers.
    check(ctx.matmul_variant() == MatmulVariant::Cooperative || a.head_dim <= MAX_CPU_HEAD_DIM, || {
        format!("attention: head_dim {} is over the {MAX_CPU_HEAD_DIM} the CPU-adapter kernels hold in registers", a.head_dim)
    })?;
    // GPUs: a 64-invocation workgroup per (head, token); CPU adapters: one subgroup, or one
    // invocation without subgroups.
    let (key, source) = match ctx.matmul_variant() {
        MatmulVariant::Cooperative => ("attention".to_string(), assemble(ATTENTION, None, &[])),
        MatmulVariant::RowPerInvocation => {
            let d4 = (a.head_dim / 4) as u32;
            (format!("attention_serial_d{d4}"), assemble(ATTENTION_SERIAL, None, &[("D4", d4)]))
        }
        MatmulVariant::RowPerInvocationSubgroup => {
            let s = ctx.subgroup_size.unwrap_or(8);
            let d4 = (a.head_dim / 4) as u32;
            (format!("attention_subgroup_{s}_d{d4}"), assemble(ATTENTION_SUBGROUP, None, &[("S", s), ("D4", d4)]))
        }
    };
    let (key, source) = (format!("{key}{}", cache.key_suffix), format!("{}\n{source}", cache.source));
    let pipeline = ctx.pipeline(&key, &source, &[Read, cache.kind, cache.kind, ReadWrite, ReadWrite, Uniform, Uniform, Read])?;
    let scale = 1.0f32 / (a.head_dim as f32).sqrt();
    let params = GpuBuffer::uniform(
        ctx,
        "attention params",
        &[a.n_head as u32, a.n_kv as u32, a.head_dim as u32, a.ctx_len as u32, scale.to_bits(), 0, 0, 0],
    );
    let params_buffer = params.buffer.clone();
    Ok(Dispatch::with_resources(
        ctx,
        "attention",
        pipeline,
        &[
            a.q.as_entire_binding(),
            a.k_cache.binding(),
            a.v_cache.binding(),
            a.scores.as_entire_binding(),
            a.out.as_entire_binding(),
            params_buffer.as_entire_binding(),
            step.buffer.as_entire_binding(),
            slots.buffer.as_entire_binding(),
        ],
        Some(params),
        Grid::PerToken(a.n_head as u32),
    ))
}
