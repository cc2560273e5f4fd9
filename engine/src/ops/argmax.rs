//! out[offset + r] = argmax of logits row r, for each logits row (shaders/sample/argmax.wgsl).

use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, ARGMAX};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError, ShaderVariant};

pub fn prepare(
    ctx: &GpuContext,
    logits: &wgpu::Buffer,
    out: &wgpu::Buffer,
    vocab: usize,
    out_offset: usize,
    step: &GpuBuffer,
) -> Result<Dispatch, GpuError> {
    let pipeline = ctx.build(&variant())?;
    let params = GpuBuffer::uniform(ctx, "argmax params", &[vocab as u32, out_offset as u32, 0, 0]);
    Ok(Dispatch::new(
        ctx,
        "argmax",
        pipeline,
        &[logits, out, &params.buffer.clone(), &step.buffer],
        Some(params),
        Grid::PerLogitsRow(1),
    ))
}

/// The one kernel `prepare` builds.
pub fn variant() -> ShaderVariant {
    ShaderVariant::new("argmax", assemble(ARGMAX, None, &[]), &[Read, ReadWrite, Uniform, Uniform])
}
