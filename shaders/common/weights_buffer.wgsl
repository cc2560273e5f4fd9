// Weight access for kernels that read a quantized weight part (binding 0) from a storage
// buffer: `wv` its i-th 16-byte word, `wu` its i-th u32 (scales). The texture form
// (weights_texture.wgsl) keeps the same indices.
@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
// The weight part again, as words, for scale reads.
@group(0) @binding(5) var<storage, read> ws: array<u32>;

fn wv(i: u32) -> vec4<u32> {
    return w[i];
}

fn wu(i: u32) -> u32 {
    return ws[i];
}
