// The verify step of CoSpec (COSPEC.md): scan the k draft tokens against the target's rows,
// accept matches (greedy) or pass the min(1, p/q) test (sampling); at a mismatch assemble the
// feature vector and ask the arbiter policy whether to keep the draft token; otherwise take the
// target's token and stop; after k accepted tokens add the bonus token. Writes the committed
// tokens, their origins and the mismatch features to `out`, the step's only read-back.
// A sequential scan over at most 16 positions: one invocation.
@group(0) @binding(0) var<storage, read> rows: array<f32>;
@group(0) @binding(1) var<storage, read> proposals: array<u32>;
@group(0) @binding(2) var<storage, read> mlp_w: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
@group(0) @binding(4) var<uniform> s: Spec;

const POLICY_TARGET: u32 = 0u;
const POLICY_DRAFT: u32 = 1u;
const POLICY_ENTROPY: u32 = 2u;
const POLICY_COSD: u32 = 3u;
const POLICY_CHOW: u32 = 4u;
const POLICY_DIFF: u32 = 5u;
const POLICY_OPT: u32 = 6u;
const POLICY_LEARNED: u32 = 7u;

// Whether the policy keeps the draft token, given the features in `feat`.
fn keep_draft() -> bool {
    let q_d = feat[0];
    let q_max = feat[1];
    let p_d = feat[4];
    let p_t = feat[5];
    let h_p = feat[6];
    let tv = feat[10];
    switch s.policy {
        case POLICY_DRAFT: { return true; }
        case POLICY_ENTROPY: { return h_p > s.th.x; }
        case POLICY_COSD: { return q_d > s.th.x && p_d > s.th.y * p_t; }
        case POLICY_CHOW: { return q_max >= 1.0 - s.th.x; }
        case POLICY_DIFF: { return q_max >= p_t - s.th.x; }
        case POLICY_OPT: { return q_max >= p_t - s.th.x * tv; }
        case POLICY_LEARNED: { return mlp_keep_probability(s.hidden) > s.th.x; }
        default: { return false; }
    }
}

// min(1, p_T(d) / q_T(d)) > u, in log space.
fn accepts(r: u32, u: f32) -> bool {
    let o = r * ROW;
    let lp = -rows[o + 8u] * s.inv_temp - rows[o + R_P_LOGZ_T];
    let lq = rows[o + R_Q_D_SHIFT] * s.inv_temp - rows[o + R_Q_LOGZ_T];
    return log(u) < lp - lq;
}

// The step's last token (at index n) from the target's row `row`, and the outcome header.
// With sampling, `resample` replaces that token by a draw of kind `kind` (0 residual, 1 p).
fn close_step(n: u32, token: u32, origin: u32, row: u32, kind: u32, mismatches: u32, kept: u32) {
    out[O_TOKENS + n] = token;
    out[O_ORIGINS + n] = origin;
    if (s.sampling == 1u) {
        out[O_SAMPLE_ROW] = row;
        out[O_SAMPLE_KIND] = kind;
    }
    out[O_COUNT] = n + 1u;
    out[O_MISMATCHES] = mismatches;
    out[O_KEEPS] = kept;
}

@compute @workgroup_size(1)
fn main() {
    var n = 0u;
    var mismatches = 0u;
    var kept = 0u;
    out[O_SAMPLE_ROW] = NONE;
    out[O_SAMPLE_KIND] = 0u;
    let k = min(s.k, MAX_K);
    for (var i = 0u; i < k; i++) {
        let o = i * ROW;
        let d = proposals[i];
        let t = u32(rows[o + R_TARGET]);
        var ok = d == t;
        if (s.sampling == 1u) {
            ok = accepts(i, uniform01(s.seed, s.step_index, i));
        }
        if (ok) {
            out[O_TOKENS + n] = d;
            out[O_ORIGINS + n] = ORIGIN_ACCEPTED;
            n++;
            continue;
        }
        for (var f = 0u; f < STATELESS; f++) {
            feat[f] = rows[o + f];
        }
        feat[11] = f32(s.block_offset + i + 1u);
        feat[12] = f32(s.generated + n) / f32(max(s.max_tokens, 1u));
        feat[13] = f32(s.keeps + kept);
        for (var f = 0u; f < FEATURES; f++) {
            out[O_FEATURES + mismatches * FEATURE_STRIDE + f] = bitcast<u32>(feat[f]);
        }
        // The two candidate tokens ride in the row's spare slots (for branch rollouts).
        out[O_FEATURES + mismatches * FEATURE_STRIDE + FEATURES] = d;
        out[O_FEATURES + mismatches * FEATURE_STRIDE + FEATURES + 1u] = t;
        out[O_MISMATCH_POS + mismatches] = i;
        mismatches++;
        if (keep_draft()) {
            out[O_TOKENS + n] = d;
            out[O_ORIGINS + n] = ORIGIN_KEPT;
            n++;
            kept++;
            continue;
        }
        // Take the target: its argmax, or a draw from the residual max(0, p - q).
        close_step(n, t, ORIGIN_TARGET, i, 0u, mismatches, kept);
        return;
    }
    // Every draft token stands: the bonus token from the last row (or a draw from p).
    close_step(n, u32(rows[k * ROW + R_TARGET]), ORIGIN_BONUS, k, 1u, mismatches, kept);
}
