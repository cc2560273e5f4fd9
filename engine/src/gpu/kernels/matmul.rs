//! y[t, :] (+)= W x[t, :] for the block's tokens, W quantized (shaders/matmul.wgsl).

use super::{check, elems};
use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{assemble, MATMUL};
use crate::gpu::{GpuBuffer, GpuContext, GpuError, GpuWeight};

/// Workgroup size, rows per workgroup and tokens per register tile.
pub const DEFAULT_CONSTANTS: [(&str, u32); 3] = [("WG", 64), ("RPW", 4), ("TM", 8)];

/// Which tokens of the block a product covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tokens {
    All,
    /// Only the trailing `m_logits` tokens (x holds just those rows).
    LogitsRows,
}

pub struct MatmulArgs<'a> {
    pub weight: &'a GpuWeight,
    pub x: &'a wgpu::Buffer,
    pub y: &'a wgpu::Buffer,
    /// Elements per row of y (>= weight rows).
    pub y_stride: usize,
    /// Add into y instead of overwriting it (fuses a residual connection).
    pub accumulate: bool,
    pub tokens: Tokens,
    pub max_tokens: usize,
}

/// One dispatch per weight part.
pub fn prepare(ctx: &GpuContext, a: MatmulArgs, step: &GpuBuffer) -> Result<Vec<Dispatch>, GpuError> {
    let w = a.weight;
    check(a.y_stride >= w.rows, || format!("matmul: y stride {} < {} rows", a.y_stride, w.rows))?;
    check(elems(a.x) >= (a.max_tokens * w.cols) as u64, || {
        format!("matmul: x holds {} floats, {} tokens x {} needed", elems(a.x), a.max_tokens, w.cols)
    })?;
    check(elems(a.y) >= (a.max_tokens * a.y_stride) as u64, || {
        format!("matmul: y holds {} floats, {} tokens x {} needed", elems(a.y), a.max_tokens, a.y_stride)
    })?;
    let consts = DEFAULT_CONSTANTS;
    let rpw = consts[1].1;
    let key = format!("matmul_{}_{:?}", w.dtype.name(), consts);
    let pipeline = ctx.pipeline(&key, &assemble(MATMUL, Some(w.dtype), &consts))?;
    let row_words = GpuWeight::row_words(w.dtype, w.cols) as u32;
    let mut out = Vec::new();
    for part in &w.parts {
        let params = GpuBuffer::uniform(
            ctx,
            "matmul params",
            &[
                w.cols as u32,
                part.rows as u32,
                row_words,
                part.first_row as u32,
                a.y_stride as u32,
                w.cols as u32,
                a.accumulate as u32,
                (a.tokens == Tokens::LogitsRows) as u32,
            ],
        );
        let groups = (part.rows as u32).div_ceil(rpw);
        out.push(Dispatch::new(
            ctx,
            "matmul",
            pipeline.clone(),
            &[&part.buffer, a.x, a.y, &params.buffer.clone(), &step.buffer],
            Some(params),
            Grid::Fixed(groups),
        ));
    }
    Ok(out)
}
