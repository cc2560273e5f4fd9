// Causal GQA attention for wide blocks (prompt chunks, lock step's wide blocks) on CPU
// adapters: one workgroup per (KV head, TOK block tokens), one lane per (token, query head of
// the group). The lanes walk the keys in step, so the key or value row one lane loads is the
// row its neighbours load (cache hits), where one workgroup per (head, token) fetched the whole
// cache again for every row. Nothing grows with the context: the scores are computed twice
// (once for their maximum, once for the weights) instead of kept in a scratch of block x heads
// x context floats.
//
// A row's arithmetic is attention_serial.wgsl's and attention_subgroup.wgsl's, operation for
// operation: the same dot order, the weights' sum and the weighted values summed over the keys
// in order, scaled by one reciprocal at the end. A token's output is therefore the same in a
// decode pass, a verify block, a prompt chunk or a slotted block of several sequences (the
// tests compare them bit for bit). Parameters and bindings: attention_bindings.wgsl (the score
// scratch is unused); the cache through k_at / v_at (kv_*.wgsl).

// head_dim / 4.
const D4: u32 = {{D4}}u;
// Block tokens a workgroup; its lanes are TOK * (query heads per KV head).
const TOK: u32 = {{TOK}}u;
const L: u32 = {{L}}u;

@compute @workgroup_size(L)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let group = p.n_head / p.n_kv;
    let kvh = wid.x;
    let t = wid.y * TOK + lane / group;
    let head = kvh * group + lane % group;
    if (t >= step.m || kvh >= p.n_kv) {
        return;
    }
    let slot = token_slot(t);
    // Sliding-window layers attend to the last p.window positions only.
    let first = window_first(slot.y);
    let n_keys = slot.y + 1u - first;
    let q_off = (t * p.n_head + head) * D4;
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
        mx = max(mx, s);
    }
    var sum = 0.0;
    var acc: array<vec4<f32>, D4>;
    for (var j = 0u; j < n_keys; j++) {
        let ko = (kv_off + j) * D4;
        var s = 0.0;
        for (var i = 0u; i < D4; i++) {
            s += dot(qv[i], k_at(ko + i));
        }
        s *= p.scale;
        let e = exp(s - mx);
        sum += e;
        for (var i = 0u; i < D4; i++) {
            acc[i] += e * v_at(ko + i);
        }
    }
    let inv = 1.0 / sum;
    for (var i = 0u; i < D4; i++) {
        out[q_off + i] = acc[i] * inv;
    }
}
