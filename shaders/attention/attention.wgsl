// Causal attention over the KV cache with grouped-query heads: one workgroup per (query head,
// block token). A token at position pos of its sequence attends to its region's positions
// 0..=pos (token_slot.wgsl: one sequence at pos0 + t, or several from the slot table).
// Scores go to a scratch row; every sum runs in a fixed order that depends only on the
// position, so a token's output is the same in a decode pass and in a verify block.
// Parameters and bindings: attention_bindings.wgsl.

const WG: u32 = 64u;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let head = wid.x;
    let t = wid.y;
    if (t >= step.m) {
        return;
    }
    let kvh = head / (p.n_head / p.n_kv);
    let slot = token_slot(t);
    // Sliding-window layers attend to the last p.window positions only.
    let first = window_first(slot.y);
    let n_keys = slot.y + 1u - first;
    let d4 = p.head_dim / 4u;
    let q_off = (t * p.n_head + head) * d4;
    let s_off = (t * p.n_head + head) * p.ctx;
    let kv_off = kvh * p.ctx + slot.x + first;

    var local_max = -3.0e38;
    for (var j = lid; j < n_keys; j += WG) {
        let ko = (kv_off + j) * d4;
        var s = 0.0;
        for (var i = 0u; i < d4; i++) {
            s += dot(q[q_off + i], k_at(ko + i));
        }
        s *= p.scale;
        scores[s_off + j] = s;
        local_max = max(local_max, s);
    }
    red[lid] = local_max;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red[lid] = max(red[lid], red[lid + k]);
        }
        workgroupBarrier();
    }
    let mx = red[0];
    workgroupBarrier();

    var local_sum = 0.0;
    for (var j = lid; j < n_keys; j += WG) {
        let e = exp(scores[s_off + j] - mx);
        scores[s_off + j] = e;
        local_sum += e;
    }
    red[lid] = local_sum;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red[lid] += red[lid + k];
        }
        workgroupBarrier();
    }
    let inv = 1.0 / red[0];
    // Make this invocation's score writes visible to the whole workgroup.
    storageBarrier();
    workgroupBarrier();

    for (var i = lid; i < d4; i += WG) {
        var acc = vec4<f32>(0.0);
        for (var j = 0u; j < n_keys; j++) {
            acc += scores[s_off + j] * v_at((kv_off + j) * d4 + i);
        }
        out[(t * p.n_head + head) * d4 + i] = acc * inv;
    }
}
