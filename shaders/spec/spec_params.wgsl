// Per-step values of a speculative step, shared by the features, verify and resample kernels
// (written once per step; the layout matches engine/src/gpu/kernels/spec.rs).
struct Spec {
    // draft tokens proposed this step
    k: u32,
    vocab: u32,
    // arbiter policy id (engine/src/decode/arbiter.rs)
    policy: u32,
    // 0: greedy verification, 1: rejection sampling
    sampling: u32,
    inv_temp: f32,
    seed: u32,
    // steps so far in this sequence (salts the random numbers)
    step_index: u32,
    // tokens generated before this step, and the budget
    generated: u32,
    max_tokens: u32,
    // arbiter keeps so far in this sequence
    keeps: u32,
    // hidden width of the learned arbiter
    hidden: u32,
    // draft tokens of this block settled before the step's first proposal (0 in a speculative
    // step; a lock-step replay of one block position sets it: decode/speculative/lockstep.rs)
    block_offset: u32,
    // policy thresholds: x = alpha / tau, y = beta
    th: vec4<f32>,
}

// Per-position row written by the features kernel: the stateless features first.
const ROW: u32 = 20u;
const R_TARGET: u32 = 11u;
const R_P_MAX: u32 = 12u;
const R_P_LOGZ_T: u32 = 13u;
const R_Q_MAX: u32 = 14u;
const R_Q_LOGZ_T: u32 = 15u;
// log q(d) - max log q (raw logit difference; exact where q(d) underflows)
const R_Q_D_SHIFT: u32 = 16u;
// Full feature vector: the 11 stateless features, then position, progress, keeps.
const FEATURES: u32 = 14u;
const STATELESS: u32 = 11u;
// Ranks beyond this are reported as this.
const RANK_CAP: f32 = 1000.0;

// The step's outcome, read back once (u32 words).
const MAX_K: u32 = 16u;
const O_COUNT: u32 = 0u;
const O_SAMPLE_ROW: u32 = 1u;
const O_SAMPLE_KIND: u32 = 2u;
const O_MISMATCHES: u32 = 3u;
const O_KEEPS: u32 = 4u;
const O_TOKENS: u32 = 8u;
const O_ORIGINS: u32 = 25u;
const O_MISMATCH_POS: u32 = 42u;
const O_FEATURES: u32 = 64u;
const FEATURE_STRIDE: u32 = 16u;
const NONE: u32 = 0xFFFFFFFFu;

const ORIGIN_ACCEPTED: u32 = 0u;
const ORIGIN_KEPT: u32 = 1u;
const ORIGIN_TARGET: u32 = 2u;
const ORIGIN_BONUS: u32 = 3u;

fn pcg(v: u32) -> u32 {
    let s = v * 747796405u + 2891336453u;
    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}

// A uniform number in (0, 1) for draw `slot` of this step: the same on every device.
fn uniform01(seed: u32, step_index: u32, slot: u32) -> f32 {
    let h = pcg(seed ^ pcg(step_index * 64u + slot));
    return (f32(h >> 8u) + 0.5) / 16777216.0;
}
