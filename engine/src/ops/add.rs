//! y += x (shaders/elementwise/add.wgsl).

use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, ADD};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError, ShaderVariant};

/// `n` elements per token.
pub fn prepare(ctx: &GpuContext, y: &wgpu::Buffer, x: &wgpu::Buffer, n: usize, step: &GpuBuffer) -> Result<Dispatch, GpuError> {
    let pipeline = ctx.build(&variant())?;
    let params = GpuBuffer::uniform(ctx, "add params", &[n as u32, 0, 0, 0]);
    Ok(Dispatch::new(
        ctx,
        "add",
        pipeline,
        &[y, x, &params.buffer.clone(), &step.buffer],
        Some(params),
        Grid::Elementwise { per_token: n as u32 },
    ))
}

/// The one kernel `prepare` builds.
pub fn variant() -> ShaderVariant {
    ShaderVariant::new("add", assemble(ADD, None, &[]), &[ReadWrite, Read, Uniform, Uniform])
}
