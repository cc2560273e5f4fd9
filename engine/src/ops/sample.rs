//! Temperature / top-k / top-p sampling of one logits row on the GPU (shaders/sample/sample.wgsl).

use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::SAMPLE;
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError, ShaderVariant};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingParams {
    pub temperature: f32,
    /// 0 keeps every token.
    pub top_k: u32,
    /// 1.0 keeps every token.
    pub top_p: f32,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams { temperature: 0.0, top_k: 0, top_p: 1.0, seed: 0 }
    }
}

impl SamplingParams {
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0
    }
}

pub struct SampleArgs<'a> {
    pub logits: &'a wgpu::Buffer,
    /// Scratch of `vocab` floats.
    pub scratch: &'a wgpu::Buffer,
    pub out: &'a wgpu::Buffer,
    /// One u32: draws so far; the kernel increments it.
    pub rng: &'a wgpu::Buffer,
    pub vocab: usize,
    pub row: usize,
    pub out_offset: usize,
}

pub fn prepare(ctx: &GpuContext, a: SampleArgs, s: SamplingParams) -> Result<Dispatch, GpuError> {
    if !(s.temperature > 0.0 && s.temperature.is_finite()) {
        return Err(GpuError::Shape(format!("sampling needs a temperature > 0, got {}", s.temperature)));
    }
    if !(s.top_p > 0.0 && s.top_p <= 1.0) {
        return Err(GpuError::Shape(format!("top-p must be in (0, 1], got {}", s.top_p)));
    }
    let pipeline = ctx.build(&variant())?;
    let seed = (s.seed ^ (s.seed >> 32)) as u32;
    let params = GpuBuffer::uniform(
        ctx,
        "sample params",
        &[
            a.vocab as u32,
            s.top_k,
            s.top_p.to_bits(),
            (1.0 / s.temperature).to_bits(),
            seed,
            a.out_offset as u32,
            a.row as u32,
            0,
        ],
    );
    Ok(Dispatch::new(
        ctx,
        "sample",
        pipeline,
        &[a.logits, a.scratch, a.out, a.rng, &params.buffer.clone()],
        Some(params),
        Grid::Fixed(1),
    ))
}

/// The one kernel `prepare` builds.
pub fn variant() -> ShaderVariant {
    ShaderVariant::new("sample", SAMPLE, &[Read, ReadWrite, ReadWrite, ReadWrite, Uniform])
}
