// The learned arbiter on a batch of feature vectors (tests and offline evaluation): one
// invocation per vector, the same function the verify kernel calls at a mismatch.
struct EvalParams {
    count: u32,
    hidden: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> features_in: array<f32>;
@group(0) @binding(1) var<storage, read> mlp_w: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> ep: EvalParams;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= ep.count) {
        return;
    }
    for (var f = 0u; f < FEATURES; f++) {
        feat[f] = features_in[i * FEATURES + f];
    }
    out[i] = mlp_keep_probability(ep.hidden);
}
