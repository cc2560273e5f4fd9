// attention.wgsl shaped for CPU adapters: one invocation per (query head, block token), no
// workgroup memory and no barrier. Scores go to the same scratch rows; every sum runs over
// positions in order, so a token's output is the same in a decode pass and a verify block.
// Parameters and bindings: attention_bindings.wgsl.

@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wid: vec3<u32>) {
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
    for (var j = 0u; j < n_keys; j++) {
        let ko = (kv_off + j) * d4;
        var s = 0.0;
        for (var i = 0u; i < d4; i++) {
            s += dot(q[q_off + i], k_cache[ko + i]);
        }
        s *= p.scale;
        scores[s_off + j] = s;
        mx = max(mx, s);
    }
    var sum = 0.0;
    for (var j = 0u; j < n_keys; j++) {
        let e = exp(scores[s_off + j] - mx);
        scores[s_off + j] = e;
        sum += e;
    }
    let inv = 1.0 / sum;
    let o = (t * p.n_head + head) * d4;
    for (var i = 0u; i < d4; i++) {
        var acc = vec4<f32>(0.0);
        for (var j = 0u; j < n_keys; j++) {
            acc += scores[s_off + j] * v_cache[(kv_off + j) * d4 + i];
        }
        out[o + i] = acc * inv;
    }
}
