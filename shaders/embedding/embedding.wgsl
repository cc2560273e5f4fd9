// x[t, :] = row tokens[t] of the (quantized) embedding table times a scale (gemma: sqrt(hidden);
// else 1, which changes no bit), for the rows this part holds; one invocation per 32-element
// chunk.
struct Params {
    chunks: u32,
    sbase: u32,
    first_row: u32,
    rows: u32,
}

// Bindings 0 and 5, the table part: weights_buffer.wgsl or weights_texture.wgsl.
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: Step;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    let t = gid.y;
    if (c >= p.chunks || t >= step.m) {
        return;
    }
    let tok = tokens[t];
    if (tok < p.first_row || tok >= p.first_row + p.rows) {
        return;
    }
    let wv = dq32((tok - p.first_row) * p.chunks + c, p.sbase);
    // The scale's bits are fixed when the pipeline is built (naga takes no bitcast in a const).
    let scale = bitcast<f32>({{SCALE_BITS}}u);
    let xi = (t * p.chunks + c) * 8u;
    for (var i = 0u; i < 8u; i++) {
        x[xi + i] = wv[i] * scale;
    }
}
