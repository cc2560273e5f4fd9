// Attention's view of the KV cache (bindings 1 and 2) in rgba32float textures, vec4 i of the
// [kv_head][cache row][head_dim] layout at texel(i) (kv_cache.rs): on CPU implementations a
// texel fetch is an inlined gather, where a storage load in a loop is a per-lane loop.
@group(0) @binding(1) var k_cache: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var v_cache: texture_storage_2d<rgba32float, read>;

fn k_at(i: u32) -> vec4<f32> {
    return textureLoad(k_cache, texel(i));
}

fn v_at(i: u32) -> vec4<f32> {
    return textureLoad(v_cache, texel(i));
}
