// out[out_offset + r] = argmax of logits row r (the lowest index among equal maxima; NaN never
// wins), one workgroup per row.
struct Params {
    n: u32,
    out_offset: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> step: Step;

const WG: u32 = 256u;
var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let r = wid.y;
    if (r >= step.m_logits) {
        return;
    }
    let base = r * p.n;
    var bv = -3.4e38;
    var bi = 0xFFFFFFFFu;
    for (var i = lid; i < p.n; i += WG) {
        let v = logits[base + i];
        if (v > bv) {
            bv = v;
            bi = i;
        }
    }
    best_v[lid] = bv;
    best_i[lid] = bi;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            let ov = best_v[lid + k];
            let oi = best_i[lid + k];
            if (ov > best_v[lid] || (ov == best_v[lid] && oi < best_i[lid])) {
                best_v[lid] = ov;
                best_i[lid] = oi;
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        out[p.out_offset + r] = min(best_i[0], p.n - 1u);
    }
}
