//! A row-shaped product's input staged into a texture with its input stage applied
//! (shaders/matmul/x_stage.wgsl), for products whose weights live in textures: the product then
//! fetches texels instead of loading storage, and the RMSNorm or SiLU gate runs once per token
//! instead of once per subgroup of rows. Every staged product of a device shares one texture
//! (`GpuContext::staging_texture`): the 1.5B model's would otherwise hold about 70 MB.

use super::matmul::Input;
use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, X_STAGE};
use crate::gpu::weight::TEXTURE_WIDTH;
use crate::gpu::BindKind::{Read, StorageTexture, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, ShaderVariant};

/// The staged activations of up to `max_tokens` rows of `k` values: the stage's dispatch and
/// the texture view the product binds. None when the texture would exceed the device's
/// largest 2D texture or staging is off (the product then reads the buffer itself).
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    ctx: &GpuContext,
    x: &wgpu::Buffer,
    x_stride: usize,
    input: Input,
    k: usize,
    max_tokens: usize,
    logits_rows: bool,
    step: &GpuBuffer,
) -> Result<Option<(Dispatch, wgpu::TextureView)>, crate::gpu::GpuError> {
    // In u64: a long block of wide rows must not wrap into a small texture.
    let texels = max_tokens.max(1) as u64 * (k / 4) as u64;
    let height = texels.div_ceil(TEXTURE_WIDTH as u64);
    if height > ctx.limits.max_texture_dimension_2d as u64 || !ctx.stages_activations() {
        return Ok(None);
    }
    let height = height as u32;
    let view = ctx.staging_texture(height);
    let (mode, gain, eps) = match input {
        Input::Plain => (0, None, 0.0f32),
        Input::RmsNorm { gain, eps } => (1, Some(gain), eps),
        Input::SiluGate => (2, None, 0.0),
    };
    let pipeline = ctx.build(&variant(mode))?;
    let params = GpuBuffer::uniform(ctx, "x_stage params", &[(k / 4) as u32, (x_stride / 4) as u32, logits_rows as u32, eps.to_bits()]);
    let params_buffer = params.buffer.clone();
    // Binding 4 (the norm gain) is x again when unused: read-only bindings may alias.
    let resources = [
        x.as_entire_binding(),
        wgpu::BindingResource::TextureView(&view),
        params_buffer.as_entire_binding(),
        step.buffer.as_entire_binding(),
        gain.map(|g| &g.buffer).unwrap_or(x).as_entire_binding(),
    ];
    // One workgroup per token: the grid's y carries the token.
    let grid = if logits_rows { Grid::PerLogitsRow(1) } else { Grid::PerToken(1) };
    let dispatch = Dispatch::with_resources(ctx, "x_stage", pipeline, &resources, Some(params), grid);
    Ok(Some((dispatch, view)))
}

/// The kernel for input stage `mode` (0 plain, 1 RMSNorm, 2 SiLU gate).
fn variant(mode: u32) -> ShaderVariant {
    ShaderVariant::new(format!("x_stage_{mode}"), assemble(X_STAGE, None, &[("MODE", mode)]), &[Read, StorageTexture, Uniform, Uniform, Read])
}

/// Every kernel `prepare` can build.
pub fn variants() -> Vec<ShaderVariant> {
    (0..3).map(variant).collect()
}
