// attention.wgsl shaped for CPU adapters without subgroups: one invocation per (query head,
// block token), no workgroup memory, no barrier and no score scratch; the row's arithmetic is
// attention_row.wgsl's. Parameters and bindings: attention_bindings.wgsl; the cache through
// k_at / v_at (kv_*.wgsl).

// head_dim / 4.
const D4: u32 = {{D4}}u;

@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wid: vec3<u32>) {
    let head = wid.x;
    let t = wid.y;
    if (t >= step.m || head >= p.n_head) {
        return;
    }
    let o = attend_row(t, head);
    let off = (t * p.n_head + head) * D4;
    for (var i = 0u; i < D4; i++) {
        out[off + i] = o[i];
    }
}
