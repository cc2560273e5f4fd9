//! The kernels of a speculative step (shaders/spec/): per-position features, the verify scan
//! with the arbiter, the closing draw of sampled verification, and the arbiter on a batch of
//! feature vectors. The step's layouts (the `Spec` uniform, the features rows, the outcome
//! read back) are declared here once; the kernels get them as WGSL (`layout_wgsl`).

use super::check;
use crate::gpu::dispatch::{Dispatch, Grid};
use crate::gpu::shaders::{ARBITER_EVAL, SPEC_FEATURES, SPEC_RESAMPLE, SPEC_VERIFY};
use crate::gpu::BindKind::{Read, ReadWrite, Uniform};
use crate::gpu::{GpuBuffer, GpuContext, GpuError, ShaderVariant};

/// Floats per verify position in the features kernel's output.
pub const ROW: usize = 20;
/// Features per mismatch given to the arbiter.
pub const FEATURES: usize = 14;
/// The stateless features (the first ones of a row).
pub const STATELESS: usize = 11;
/// A features row after its stateless features: the target's argmax, the target's max logit
/// and log-partition at the temperature, the draft's, and log q(d) - max log q (the raw logit
/// difference, exact where q(d) underflows).
pub const R_TARGET: usize = 11;
pub const R_P_MAX: usize = 12;
pub const R_P_LOGZ_T: usize = 13;
pub const R_Q_MAX: usize = 14;
pub const R_Q_LOGZ_T: usize = 15;
pub const R_Q_D_SHIFT: usize = 16;
/// Longest draft a step can verify.
pub const MAX_K: usize = 16;
/// The outcome, in u32 words: committed count, the row to resample (NONE: none) and whether
/// from p itself, mismatches and keeps, then the committed tokens, their origins, the
/// mismatches' positions and their feature vectors.
pub const O_COUNT: usize = 0;
pub const O_SAMPLE_ROW: usize = 1;
pub const O_SAMPLE_KIND: usize = 2;
pub const O_MISMATCHES: usize = 3;
pub const O_KEEPS: usize = 4;
pub const O_TOKENS: usize = 8;
pub const O_ORIGINS: usize = 25;
pub const O_MISMATCH_POS: usize = 42;
pub const O_FEATURES: usize = 64;
pub const FEATURE_STRIDE: usize = 16;
/// u32 words of a step's outcome.
pub const OUTCOME_WORDS: usize = O_FEATURES + MAX_K * FEATURE_STRIDE;
/// A committed token's origin code in the outcome.
pub const ORIGIN_ACCEPTED: u32 = 0;
pub const ORIGIN_KEPT: u32 = 1;
pub const ORIGIN_TARGET: u32 = 2;
pub const ORIGIN_BONUS: u32 = 3;
/// "No row" in the outcome.
pub const NONE: u32 = u32::MAX;

// The regions do not overlap: a step commits at most MAX_K + 1 tokens and has at most MAX_K
// mismatches.
const _: () = assert!(O_KEEPS < O_TOKENS && O_TOKENS + MAX_K + 1 <= O_ORIGINS);
const _: () = assert!(O_ORIGINS + MAX_K + 1 <= O_MISMATCH_POS && O_MISMATCH_POS + MAX_K <= O_FEATURES);
const _: () = assert!(FEATURES + 2 <= FEATURE_STRIDE && R_Q_D_SHIFT < ROW && STATELESS == R_TARGET);

/// The layout constants every spec kernel declares.
const LAYOUT: [(&str, usize); 25] = [
    ("ROW", ROW),
    ("FEATURES", FEATURES),
    ("STATELESS", STATELESS),
    ("R_TARGET", R_TARGET),
    ("R_P_MAX", R_P_MAX),
    ("R_P_LOGZ_T", R_P_LOGZ_T),
    ("R_Q_MAX", R_Q_MAX),
    ("R_Q_LOGZ_T", R_Q_LOGZ_T),
    ("R_Q_D_SHIFT", R_Q_D_SHIFT),
    ("MAX_K", MAX_K),
    ("O_COUNT", O_COUNT),
    ("O_SAMPLE_ROW", O_SAMPLE_ROW),
    ("O_SAMPLE_KIND", O_SAMPLE_KIND),
    ("O_MISMATCHES", O_MISMATCHES),
    ("O_KEEPS", O_KEEPS),
    ("O_TOKENS", O_TOKENS),
    ("O_ORIGINS", O_ORIGINS),
    ("O_MISMATCH_POS", O_MISMATCH_POS),
    ("O_FEATURES", O_FEATURES),
    ("FEATURE_STRIDE", FEATURE_STRIDE),
    ("NONE", NONE as usize),
    ("ORIGIN_ACCEPTED", ORIGIN_ACCEPTED as usize),
    ("ORIGIN_KEPT", ORIGIN_KEPT as usize),
    ("ORIGIN_TARGET", ORIGIN_TARGET as usize),
    ("ORIGIN_BONUS", ORIGIN_BONUS as usize),
];

/// The `Spec` uniform's scalar fields in memory order (WGSL type, name, comment); four f32
/// thresholds follow as `th`. `SpecParams::words` writes them in this order.
const SPEC_FIELDS: [(&str, &str, &str); 12] = [
    ("u32", "k", "draft tokens proposed this step"),
    ("u32", "vocab", "vocabulary size"),
    ("u32", "policy", "arbiter policy id (decode/arbiter.rs)"),
    ("u32", "sampling", "0: greedy verification, 1: rejection sampling"),
    ("f32", "inv_temp", "1 / temperature"),
    ("u32", "seed", "sampling seed"),
    ("u32", "step_index", "steps so far in this sequence (salts the random numbers)"),
    ("u32", "generated", "tokens generated before this step"),
    ("u32", "max_tokens", "the generation's budget"),
    ("u32", "keeps", "arbiter keeps so far in this sequence"),
    ("u32", "hidden", "hidden width of the learned arbiter"),
    ("u32", "block_offset", "draft tokens of this block settled before the step's first proposal (lock-step replays)"),
];

/// The WGSL of the `Spec` struct and the layout constants, prepended to every spec kernel.
pub fn layout_wgsl() -> String {
    let mut s = String::from("// Declared in engine/src/ops/spec.rs.\nstruct Spec {\n");
    for (ty, name, comment) in SPEC_FIELDS {
        s.push_str(&format!("    // {comment}\n    {name}: {ty},\n"));
    }
    s.push_str("    // policy thresholds: x = alpha / tau, y = beta\n    th: vec4<f32>,\n}\n");
    for (name, value) in LAYOUT {
        s.push_str(&format!("const {name}: u32 = {value}u;\n"));
    }
    s
}

/// A spec kernel's whole source: the layout, then its body (shaders.rs).
pub fn source(body: &str) -> String {
    layout_wgsl() + body
}

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
    /// Words of the uniform: `SPEC_FIELDS` in order, then the four thresholds.
    pub fn words(&self) -> [u32; SPEC_FIELDS.len() + 4] {
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

/// The step's kernels (features, verify, resample) and the arbiter's evaluation: every kernel
/// this module builds.
pub fn variants() -> [ShaderVariant; 4] {
    let step = [Read, Read, Read, ReadWrite, Uniform];
    [
        ShaderVariant::new("spec_features", source(SPEC_FEATURES), &step),
        ShaderVariant::new("spec_verify", source(SPEC_VERIFY), &step),
        ShaderVariant::new("spec_resample", source(SPEC_RESAMPLE), &step),
        ShaderVariant::new("arbiter_eval", source(ARBITER_EVAL), &[Read, Read, ReadWrite, Uniform]),
    ]
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
        ctx.build(&variants()[0])?,
        &[b.p_logits, b.q_logits, b.proposals, b.rows, &b.params.buffer],
        None,
        Grid::Fixed(b.max_k as u32 + 1),
    );
    let verify = Dispatch::new(
        ctx,
        "spec verify",
        ctx.build(&variants()[1])?,
        &[b.rows, b.proposals, b.mlp, b.outcome, &b.params.buffer],
        None,
        Grid::Fixed(1),
    );
    let resample = Dispatch::new(
        ctx,
        "spec resample",
        ctx.build(&variants()[2])?,
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
        ctx.build(&variants()[3])?,
        &[features, mlp, out, &params.buffer.clone()],
        Some(params),
        Grid::Fixed((count as u32).div_ceil(64)),
    ))
}
