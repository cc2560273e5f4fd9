//! act = silu(gate) * up from [gate | up] rows (shaders/silu_mul.wgsl).

use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, SILU_MUL};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError};

/// `n` elements per token.
pub fn prepare(ctx: &GpuContext, gate_up: &wgpu::Buffer, act: &wgpu::Buffer, n: usize, step: &GpuBuffer) -> Result<Dispatch, GpuError> {
    let pipeline = ctx.pipeline("silu_mul", &assemble(SILU_MUL, None, &[]), &[Read, ReadWrite, Uniform, Uniform])?;
    let params = GpuBuffer::uniform(ctx, "silu params", &[n as u32, 0, 0, 0]);
    Ok(Dispatch::new(
        ctx,
        "silu_mul",
        pipeline,
        &[gate_up, act, &params.buffer.clone(), &step.buffer],
        Some(params),
        Grid::Elementwise { per_token: n as u32 },
    ))
}
