// A row-shaped product's activations (binding 1) staged by x_stage.wgsl into an rgba32float
// texture, its input stage already applied: token t's K / 4 vec4s from texel t * K / 4, in
// the weights' layout (texel.wgsl), read as a read-only storage texture. On CPU
// implementations of WebGPU a texel fetch costs a fraction of a storage load (docs/perf.md).
@group(0) @binding(1) var xt: texture_storage_2d<rgba32float, read>;

fn x_raw(t: u32, i4: u32) -> vec4<f32> {
    let i = t * p.chunks * 8u + i4;
    return textureLoad(xt, texel(i));
}
