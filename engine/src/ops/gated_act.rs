//! act = f(gate) * up from [gate | up] rows, f being SiLU or GELU (shaders/elementwise/gated_act.wgsl).

use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, GATED_ACT};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError, ShaderVariant};

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
    let pipeline = ctx.build(&variant(gate))?;
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

fn variant(gate: Gate) -> ShaderVariant {
    ShaderVariant::new(format!("gated_act_{gate:?}"), assemble(GATED_ACT, None, &[("ACT", gate.code())]), &[Read, ReadWrite, Uniform, Uniform])
}

/// Every kernel `prepare` can build.
pub fn variants() -> Vec<ShaderVariant> {
    [Gate::Silu, Gate::GeluTanh].map(variant).to_vec()
}
