// rope_store.wgsl's appends to the KV cache (bindings 3 and 4) in rgba32float textures: vec4
// i of the [kv_head][cache row][head_dim] layout at texel(i) (kv_cache.rs).
@group(0) @binding(3) var k_cache: texture_storage_2d<rgba32float, write>;
@group(0) @binding(4) var v_cache: texture_storage_2d<rgba32float, write>;

fn kv_put(i: u32, k: vec4<f32>, v: vec4<f32>) {
    textureStore(k_cache, texel(i), k);
    textureStore(v_cache, texel(i), v);
}
