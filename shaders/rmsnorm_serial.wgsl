// rmsnorm.wgsl shaped for CPU adapters: one invocation per token, no workgroup memory and no
// barrier (barriers are context switches there). Same result contract, its own summation order.
struct Params {
    n: u32,
    eps: f32,
    count_sel: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: Step;

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
        y[t * p.n + i] = x[src + i] * inv * g[i];
    }
}
