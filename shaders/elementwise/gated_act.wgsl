// act = f(gate) * up, elementwise over the block's FFN activations; each input row is
// [gate | up] as one product writes them. f is SiLU (ACT 0) or GELU with the tanh
// approximation (ACT 1: Gemma), chosen when the pipeline is built.
struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> gu: array<f32>;
@group(0) @binding(1) var<storage, read_write> act: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> step: Step;

const ACT: u32 = {{ACT}}u;

fn gate(a: f32) -> f32 {
    if (ACT == 1u) {
        // tanh's argument clamped: some drivers compute tanh through exp, which overflows to
        // inf / inf for large arguments; tanh(10) is 1 in f32 already.
        let u = clamp(0.7978845608 * (a + 0.044715 * a * a * a), -10.0, 10.0);
        return 0.5 * a * (1.0 + tanh(u));
    }
    return a / (1.0 + exp(-a));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= p.n * step.m) {
        return;
    }
    let t = i / p.n;
    let j = i % p.n;
    act[i] = gate(gu[t * 2u * p.n + j]) * gu[t * 2u * p.n + p.n + j];
}
