// attention.wgsl shaped for CPU adapters: one invocation per (query head, block token), no
// workgroup memory and no barrier. Scores go to the same scratch rows; every sum runs over
// positions in order, so a token's output is the same in a decode pass and a verify block.
// As in attention_subgroup.wgsl, what the key loops would load again and again (the query,
// each key's weight) is loaded once. Parameters and bindings: attention_bindings.wgsl; the
// cache through k_at / v_at (kv_*.wgsl).

// head_dim / 4.
const D4: u32 = {{D4}}u;

@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wid: vec3<u32>) {
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
    for (var j = 0u; j < n_keys; j++) {
        let ko = (kv_off + j) * D4;
        var s = 0.0;
        for (var i = 0u; i < D4; i++) {
            s += dot(qv[i], k_at(ko + i));
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
    var acc: array<vec4<f32>, D4>;
    for (var j = 0u; j < n_keys; j++) {
        let e = scores[s_off + j];
        let row = (kv_off + j) * D4;
        for (var i = 0u; i < D4; i++) {
            acc[i] += e * v_at(row + i);
        }
    }
    let o = (t * p.n_head + head) * D4;
    for (var i = 0u; i < D4; i++) {
        out[o + i] = acc[i] * inv;
    }
}
