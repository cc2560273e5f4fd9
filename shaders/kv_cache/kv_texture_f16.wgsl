// Attention's view of an f16 KV cache (bindings 1 and 2) in rg32uint textures: vec4 i of the
// [kv_head][cache row][head_dim] layout is the four halves of texel(i), as kv_texture.wgsl.
// Unpacked in the shader: llvmpipe fetches rg32uint texels as plain loads, where an
// rgba16float fetch made attention slower than the f32 cache's.
@group(0) @binding(1) var k_cache: texture_storage_2d<rg32uint, read>;
@group(0) @binding(2) var v_cache: texture_storage_2d<rg32uint, read>;

fn k_at(i: u32) -> vec4<f32> {
    let w = textureLoad(k_cache, texel(i)).xy;
    return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}

fn v_at(i: u32) -> vec4<f32> {
    let w = textureLoad(v_cache, texel(i)).xy;
    return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}
