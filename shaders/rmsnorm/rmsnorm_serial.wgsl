// rmsnorm.wgsl shaped for CPU adapters: one invocation per token, no workgroup memory and no
// barrier (barriers are context switches there). Same result contract, its own summation order.
// Parameters and bindings: rmsnorm_bindings.wgsl.

@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wid: vec3<u32>) {
    let t = wid.y;
    let m = select(step.m, step.m_logits, p.count_sel == 1u);
    if (t >= m) {
        return;
    }
    let src = (t + select(0u, step.m - step.m_logits, p.count_sel == 1u)) * p.n;
    var s = 0.0;
    for (var i = 0u; i < p.n; i++) {
        let v = x[src + i];
        s += v * v;
    }
    let inv = 1.0 / sqrt(s / f32(p.n) + p.eps);
    for (var i = 0u; i < p.n; i++) {
        let v = x[src + i] * inv * g[i];
        if (ADD == 1u) {
            y[t * p.n + i] += v;
        } else {
            y[t * p.n + i] = v;
        }
    }
}
