//! x[t, :] = embedding row tokens[t], dequantized and scaled (shaders/embedding/embedding.wgsl).

use super::{check, elems};
use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, EMBEDDING};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::ops::matmul::weight_kind;
use crate::formats::DType;
use crate::gpu::weight::WeightStore;
use crate::gpu::{GpuBuffer, GpuContext, GpuError, GpuWeight, ModelShapes, ShaderVariant};

pub fn prepare(
    ctx: &GpuContext,
    table: &GpuWeight,
    tokens: &wgpu::Buffer,
    x: &wgpu::Buffer,
    scale: f32,
    max_tokens: usize,
    step: &GpuBuffer,
) -> Result<Vec<Dispatch>, GpuError> {
    check(elems(x) >= (max_tokens * table.cols) as u64, || {
        format!("embedding: x holds {} floats, {max_tokens} x {} needed", elems(x), table.cols)
    })?;
    let pipeline = ctx.build(&variant(table.dtype, table.store, scale))?;
    let mut out = Vec::new();
    for part in &table.parts {
        let params = GpuBuffer::uniform(
            ctx,
            "embedding params",
            &[table.chunks_per_row() as u32, table.scale_base(part) as u32, part.first_row as u32, part.rows as u32],
        );
        let x_groups = (table.chunks_per_row() as u32).div_ceil(64);
        let params_buffer = params.buffer.clone();
        out.push(Dispatch::with_resources(
            ctx,
            "embedding",
            pipeline.clone(),
            &[
                part.binding(),
                tokens.as_entire_binding(),
                x.as_entire_binding(),
                params_buffer.as_entire_binding(),
                step.buffer.as_entire_binding(),
                part.binding(),
            ],
            Some(params),
            Grid::PerToken(x_groups),
        ));
    }
    Ok(out)
}

/// The kernel for a table of `dtype` in `store`, its rows scaled by `scale`.
fn variant(dtype: DType, store: WeightStore, scale: f32) -> ShaderVariant {
    let bits = scale.to_bits();
    let wk = weight_kind(store);
    ShaderVariant::new(
        format!("embedding_{}_{store:?}_x{bits:08x}", dtype.name()),
        assemble(EMBEDDING, Some((dtype, store)), &[("SCALE_BITS", bits)]),
        &[wk, Read, ReadWrite, Uniform, Uniform, wk],
    )
}

/// Every kernel `prepare` can build for `shapes`' scales.
pub fn variants(shapes: &ModelShapes) -> Vec<ShaderVariant> {
    let mut v = Vec::new();
    for dtype in DType::ALL {
        for store in [WeightStore::Buffer, WeightStore::Texture] {
            v.extend(shapes.embedding_scales.iter().map(|&s| variant(dtype, store, s)));
        }
    }
    v
}
