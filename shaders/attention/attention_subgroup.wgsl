// attention.wgsl shaped for CPU adapters with subgroups: one subgroup-sized workgroup per
// (query head, block token). Lanes take every S-th key for the scores and every S-th vec4 of
// the head for the weighted sum of values; the maximum is a subgroup reduction, so there is
// no workgroup memory. Every sum's order depends only on the position (batch invariance).
// On llvmpipe every storage load inside a loop is a per-lane loop, so what a loop would load
// again and again is loaded once: the query into registers before the keys, each key's
// weight once per S keys and handed round by shuffles. Parameters and bindings:
// attention_bindings.wgsl; the cache through k_at / v_at (kv_*.wgsl).

const S: u32 = {{S}}u;
// head_dim / 4, and the value vec4s each lane sums.
const D4: u32 = {{D4}}u;
const PER_LANE: u32 = (D4 + S - 1u) / S;

@compute @workgroup_size(S)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let head = wid.x;
    let t = wid.y;
    if (t >= step.m || head >= p.n_head) {
        return;
    }
    let kvh = head / (p.n_head / p.n_kv);
    let slot = token_slot(t);
    // Sliding-window layers attend to the last p.window positions only.
    let first = window_first(slot.y);
    let n_keys = slot.y + 1u - first;
    let q_off = (t * p.n_head + head) * D4;
    let s_off = (t * p.n_head + head) * p.ctx;
    let kv_off = kvh * p.ctx + slot.x + first;
    var qv: array<vec4<f32>, D4>;
    for (var i = 0u; i < D4; i++) {
        qv[i] = q[q_off + i];
    }
    var mx = -3.0e38;
    for (var j = lane; j < n_keys; j += S) {
        let ko = (kv_off + j) * D4;
        var s = 0.0;
        for (var i = 0u; i < D4; i++) {
            s += dot(qv[i], k_at(ko + i));
        }
        s *= p.scale;
        scores[s_off + j] = s;
        mx = max(mx, s);
    }
    mx = subgroupMax(mx);
    for (var j = lane; j < n_keys; j += S) {
        scores[s_off + j] = exp(scores[s_off + j] - mx);
    }
    // Other lanes' weights must be visible before they are read back below.
    storageBarrier();
    // Columns past the head (D4 not a multiple of S) repeat its last one and are not written.
    // The weights' sum runs over the keys in order, as in attention_serial.wgsl and
    // attention_tiled.wgsl, so a token's output is the same in a prompt chunk.
    var sum = 0.0;
    var acc: array<vec4<f32>, PER_LANE>;
    for (var j0 = 0u; j0 < n_keys; j0 += S) {
        let mine = scores[s_off + min(j0 + lane, n_keys - 1u)];
        let n = min(S, n_keys - j0);
        for (var u = 0u; u < n; u++) {
            let e = subgroupShuffle(mine, u);
            sum += e;
            let row = (kv_off + j0 + u) * D4;
            for (var c = 0u; c < PER_LANE; c++) {
                acc[c] += e * v_at(row + min(lane + c * S, D4 - 1u));
            }
        }
    }
    let inv = 1.0 / sum;
    let o = (t * p.n_head + head) * D4;
    for (var c = 0u; c < PER_LANE; c++) {
        let i = lane + c * S;
        if (i < D4) {
            out[o + i] = acc[c] * inv;
        }
    }
}
