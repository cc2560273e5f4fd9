//! y[t] = rmsnorm(x[t]) * g, or y[t] += it (shaders/rmsnorm/rmsnorm.wgsl).

use super::{check, elems};
use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, RMSNORM, RMSNORM_SERIAL};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{DeviceProfile, GpuBuffer, GpuContext, GpuError, ShaderVariant, ShapeFamily};

/// `logits_rows`: read only the trailing `m_logits` rows of x (the final norm before logits).
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    ctx: &GpuContext,
    x: &wgpu::Buffer,
    gain: &GpuBuffer,
    y: &wgpu::Buffer,
    n: usize,
    eps: f32,
    logits_rows: bool,
    max_tokens: usize,
    step: &GpuBuffer,
) -> Result<Dispatch, GpuError> {
    build(ctx, x, gain, y, n, eps, logits_rows, false, max_tokens, step)
}

/// y[t] += rmsnorm(x[t]) * g: a norm on a branch's output as it joins the residual (gemma).
#[allow(clippy::too_many_arguments)]
pub fn prepare_add(ctx: &GpuContext, x: &wgpu::Buffer, gain: &GpuBuffer, y: &wgpu::Buffer, n: usize, eps: f32, max_tokens: usize, step: &GpuBuffer) -> Result<Dispatch, GpuError> {
    build(ctx, x, gain, y, n, eps, false, true, max_tokens, step)
}

#[allow(clippy::too_many_arguments)]
fn build(
    ctx: &GpuContext,
    x: &wgpu::Buffer,
    gain: &GpuBuffer,
    y: &wgpu::Buffer,
    n: usize,
    eps: f32,
    logits_rows: bool,
    add: bool,
    max_tokens: usize,
    step: &GpuBuffer,
) -> Result<Dispatch, GpuError> {
    check(gain.len == n, || format!("rmsnorm: gain has {} elements, {n} expected", gain.len))?;
    check(elems(x) >= (n * max_tokens) as u64 && elems(y) >= (n * max_tokens) as u64, || {
        format!("rmsnorm: buffers too small for {max_tokens} x {n}")
    })?;
    let pipeline = ctx.build(&variant(&ctx.profile, add))?;
    let params = GpuBuffer::uniform(ctx, "rmsnorm params", &[n as u32, eps.to_bits(), logits_rows as u32, 0]);
    let grid = if logits_rows { Grid::PerLogitsRow(1) } else { Grid::PerToken(1) };
    // One workgroup per token: the grid's y dimension carries the token, x is 1.
    Ok(Dispatch::new(
        ctx,
        "rmsnorm",
        pipeline,
        &[x, &gain.buffer, y, &params.buffer.clone(), &step.buffer],
        Some(params),
        grid,
    ))
}

/// GPUs a workgroup per token, CPU adapters one invocation; with or without a residual add.
fn variant(profile: &DeviceProfile, add: bool) -> ShaderVariant {
    let (label, body) = if profile.shape_family != ShapeFamily::Cooperative { ("rmsnorm_serial", RMSNORM_SERIAL) } else { ("rmsnorm", RMSNORM) };
    ShaderVariant::new(format!("{label}_add{}", add as u32), assemble(body, None, &[("ADD", add as u32)]), &[Read, Read, ReadWrite, Uniform, Uniform])
}

/// Every kernel the launchers can build on `profile`.
pub fn variants(profile: &DeviceProfile) -> Vec<ShaderVariant> {
    [false, true].map(|add| variant(profile, add)).to_vec()
}
