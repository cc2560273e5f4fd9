//! The kernels of a speculative step (shaders/spec/): per-position features, the verify scan
//! with the arbiter, the closing draw of sampled verification, and the arbiter on a batch of
//! feature vectors. Layout constants mirror shaders/spec/spec_params.wgsl.

use super::check;
use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{ARBITER_EVAL, SPEC_FEATURES, SPEC_RESAMPLE, SPEC_VERIFY};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError};

/// Floats per verify position in the features kernel's output.
pub const ROW: usize = 20;
/// Features per mismatch given to the arbiter.
pub const FEATURES: usize = 14;
/// The stateless features (the first ones of a row).
pub const STATELESS: usize = 11;
pub const R_TARGET: usize = 11;
/// Longest draft a step can verify.
pub const MAX_K: usize = 16;
pub const O_COUNT: usize = 0;
pub const O_SAMPLE_ROW: usize = 1;
pub const O_MISMATCHES: usize = 3;
pub const O_KEEPS: usize = 4;
pub const O_TOKENS: usize = 8;
pub const O_ORIGINS: usize = 25;
pub const O_MISMATCH_POS: usize = 42;
pub const O_FEATURES: usize = 64;
pub const FEATURE_STRIDE: usize = 16;
/// u32 words of a step's outcome.
pub const OUTCOME_WORDS: usize = O_FEATURES + MAX_K * FEATURE_STRIDE;

/// The `Spec` uniform of one step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SpecParams {
    pub k: u32,
    pub vocab: u32,
    pub policy: u32,
    pub sampling: bool,
    pub inv_temp: f32,
    pub seed: u32,
    pub step_index: u32,
    pub generated: u32,
    pub max_tokens: u32,
    pub keeps: u32,
    pub hidden: u32,
    /// Block positions settled before this step's first proposal (0 in a speculative step).
    pub block_offset: u32,
    pub thresholds: [f32; 2],
}

impl SpecParams {
    pub fn words(&self) -> [u32; 16] {
        [
            self.k,
            self.vocab,
            self.policy,
            self.sampling as u32,
            self.inv_temp.to_bits(),
            self.seed,
            self.step_index,
            self.generated,
            self.max_tokens,
            self.keeps,
            self.hidden,
            self.block_offset,
            self.thresholds[0].to_bits(),
            self.thresholds[1].to_bits(),
            0,
            0,
        ]
    }
}

/// Buffers of a speculative step.
pub struct SpecBuffers<'a> {
    /// Target logits, k+1 rows.
    pub p_logits: &'a wgpu::Buffer,
    /// Draft logits of each proposal, k rows.
    pub q_logits: &'a wgpu::Buffer,
    pub proposals: &'a wgpu::Buffer,
    /// Features kernel output, (MAX_K + 1) x ROW floats.
    pub rows: &'a wgpu::Buffer,
    /// The learned arbiter's weights (any non-empty buffer when unused).
    pub mlp: &'a wgpu::Buffer,
    /// OUTCOME_WORDS u32s.
    pub outcome: &'a wgpu::Buffer,
    /// The `Spec` uniform (16 words).
    pub params: &'a GpuBuffer,
    pub vocab: usize,
    /// Longest draft this step will verify (<= MAX_K).
    pub max_k: usize,
}

/// Features, verify and resample, in launch order.
pub fn prepare(ctx: &GpuContext, b: &SpecBuffers) -> Result<[Dispatch; 3], GpuError> {
    let rows_needed = ((MAX_K + 1) * ROW * 4) as u64;
    check(b.rows.size() >= rows_needed, || format!("spec: rows buffer has {} bytes, {rows_needed} needed", b.rows.size()))?;
    check(b.outcome.size() >= (OUTCOME_WORDS * 4) as u64, || "spec: outcome buffer too small".into())?;
    check(b.proposals.size() >= (MAX_K * 4) as u64, || "spec: proposals buffer too small".into())?;
    check(b.params.len >= 16, || "spec: params uniform too small".into())?;
    check(b.vocab > 0 && b.vocab < 1 << 24, || format!("spec: vocabulary of {} out of range", b.vocab))?;
    check((1..=MAX_K).contains(&b.max_k), || format!("spec: draft length {} out of range 1..={MAX_K}", b.max_k))?;
    let rows_of = |buf: &wgpu::Buffer| buf.size() / (b.vocab * 4) as u64;
    check(rows_of(b.p_logits) > b.max_k as u64, || format!("spec: target logits hold {} rows, {} needed", rows_of(b.p_logits), b.max_k + 1))?;
    check(rows_of(b.q_logits) >= b.max_k as u64, || format!("spec: draft logits hold {} rows, {} needed", rows_of(b.q_logits), b.max_k))?;
    let features = Dispatch::new(
        ctx,
        "spec features",
        ctx.pipeline("spec_features", SPEC_FEATURES, &[Read, Read, Read, ReadWrite, Uniform])?,
        &[b.p_logits, b.q_logits, b.proposals, b.rows, &b.params.buffer],
        None,
        Grid::Fixed(b.max_k as u32 + 1),
    );
    let verify = Dispatch::new(
        ctx,
        "spec verify",
        ctx.pipeline("spec_verify", SPEC_VERIFY, &[Read, Read, Read, ReadWrite, Uniform])?,
        &[b.rows, b.proposals, b.mlp, b.outcome, &b.params.buffer],
        None,
        Grid::Fixed(1),
    );
    let resample = Dispatch::new(
        ctx,
        "spec resample",
        ctx.pipeline("spec_resample", SPEC_RESAMPLE, &[Read, Read, Read, ReadWrite, Uniform])?,
        &[b.p_logits, b.q_logits, b.rows, b.outcome, &b.params.buffer],
        None,
        Grid::Fixed(1),
    );
    Ok([features, verify, resample])
}

/// The learned arbiter's keep probability for `count` feature vectors in `features`.
pub fn prepare_arbiter_eval(
    ctx: &GpuContext,
    features: &wgpu::Buffer,
    mlp: &wgpu::Buffer,
    out: &wgpu::Buffer,
    count: usize,
    hidden: usize,
) -> Result<Dispatch, GpuError> {
    check(features.size() >= (count * FEATURES * 4) as u64, || "arbiter eval: features buffer too small".into())?;
    check(out.size() >= (count * 4) as u64, || "arbiter eval: output buffer too small".into())?;
    let mlp_words = 2 * FEATURES + hidden * (FEATURES + 2) + 1;
    check(mlp.size() >= (mlp_words * 4) as u64, || format!("arbiter eval: weights buffer holds fewer than {mlp_words} floats"))?;
    let params = GpuBuffer::uniform(ctx, "arbiter eval params", &[count as u32, hidden as u32, 0, 0]);
    Ok(Dispatch::new(
        ctx,
        "arbiter eval",
        ctx.pipeline("arbiter_eval", ARBITER_EVAL, &[Read, Read, ReadWrite, Uniform])?,
        &[features, mlp, out, &params.buffer.clone()],
        Some(params),
        Grid::Fixed((count as u32).div_ceil(64)),
    ))
}
