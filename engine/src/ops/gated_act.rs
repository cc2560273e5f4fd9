//! act = f(gate) * up from [gate | up] rows, f being SiLU or GELU (shaders/elementwise/gated_act.wgsl).

use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, GATED_ACT};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError};

/// The gate's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// x * sigmoid(x): llama, qwen.
    Silu,
    /// GELU, tanh approximation: gemma.
    GeluTanh,
}

impl Gate {
    fn code(self) -> u32 {
        match self {
            Gate::Silu => 0,
            Gate::GeluTanh => 1,
        }
    }
}

/// `n` elements per token.
pub fn prepare(ctx: &GpuContext, gate: Gate, gate_up: &wgpu::Buffer, act: &wgpu::Buffer, n: usize, step: &GpuBuffer) -> Result<Dispatch, GpuError> {
    let key = format!("gated_act_{gate:?}");
    let pipeline = ctx.pipeline(&key, &assemble(GATED_ACT, None, &[("ACT", gate.code())]), &[Read, ReadWrite, Uniform, Uniform])?;
    let params = GpuBuffer::uniform(ctx, "gated activation params", &[n as u32, 0, 0, 0]);
    Ok(Dispatch::new(
        ctx,
        "gated_act",
        pipeline,
        &[gate_up, act, &params.buffer.clone(), &step.buffer],
        Some(params),
        Grid::Elementwise { per_token: n as u32 },
    ))
}
