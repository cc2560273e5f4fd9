// attention.wgsl shaped for CPU adapters with subgroups: one subgroup-sized workgroup per
// (query head, block token). Lanes take every S-th key for the scores and every S-th vec4 of
// the head for the weighted sum of values; maxima and sums are subgroup reductions, so there
// is no workgroup memory. Every sum's order depends only on the position (batch invariance).
// Parameters and bindings: attention_bindings.wgsl.

const S: u32 = {{S}}u;

@compute @workgroup_size(S)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let head = wid.x;
    let t = wid.y;
    if (t >= step.m || head >= p.n_head) {
        return;
    }
    let kvh = head / (p.n_head / p.n_kv);
    let slot = token_slot(t);
    let n_keys = slot.y + 1u;
    let d4 = p.head_dim / 4u;
    let q_off = (t * p.n_head + head) * d4;
    let s_off = (t * p.n_head + head) * p.ctx;
    let kv_off = kvh * p.ctx + slot.x;
    var mx = -3.0e38;
    for (var j = lane; j < n_keys; j += S) {
        let ko = (kv_off + j) * d4;
        var s = 0.0;
        for (var i = 0u; i < d4; i++) {
            s += dot(q[q_off + i], k_cache[ko + i]);
        }
        s *= p.scale;
        scores[s_off + j] = s;
        mx = max(mx, s);
    }
    mx = subgroupMax(mx);
    var sum = 0.0;
    for (var j = lane; j < n_keys; j += S) {
        let e = exp(scores[s_off + j] - mx);
        scores[s_off + j] = e;
        sum += e;
    }
    let inv = 1.0 / subgroupAdd(sum);
    // Other lanes' scores must be visible before the weighted sum reads them.
    storageBarrier();
    let o = (t * p.n_head + head) * d4;
    for (var i = lane; i < d4; i += S) {
        var acc = vec4<f32>(0.0);
        for (var j = 0u; j < n_keys; j++) {
            acc += scores[s_off + j] * v_cache[(kv_off + j) * d4 + i];
        }
        out[o + i] = acc * inv;
    }
}
