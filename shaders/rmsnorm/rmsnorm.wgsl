// y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * g, one workgroup per token; a fixed reduction tree
// keeps each token's result independent of the block size.
// Parameters and bindings: rmsnorm_bindings.wgsl.

const WG: u32 = 64u;
var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let t = wid.y;
    let m = select(step.m, step.m_logits, p.count_sel == 1u);
    if (t >= m) {
        return;
    }
    let src = (t + select(0u, step.m - step.m_logits, p.count_sel == 1u)) * p.n;
    var s = 0.0;
    for (var i = lid; i < p.n; i += WG) {
        let v = x[src + i];
        s += v * v;
    }
    part[lid] = s;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            part[lid] += part[lid + k];
        }
        workgroupBarrier();
    }
    let inv = 1.0 / sqrt(part[0] / f32(p.n) + p.eps);
    for (var i = lid; i < p.n; i += WG) {
        let v = x[src + i] * inv * g[i];
        if (ADD == 1u) {
            y[t * p.n + i] += v;
        } else {
            y[t * p.n + i] = v;
        }
    }
}
