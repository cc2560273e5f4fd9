// rope_store.wgsl's appends to an f16 KV cache (bindings 3 and 4) in rg32uint textures: vec4
// i of the [kv_head][cache row][head_dim] layout as the four halves of texel(i).
@group(0) @binding(3) var k_cache: texture_storage_2d<rg32uint, write>;
@group(0) @binding(4) var v_cache: texture_storage_2d<rg32uint, write>;

// pack2x16float is indeterminate outside f16's range: values past it saturate.
const F16_MAX: f32 = 65504.0;

fn pack_half4(x: vec4<f32>) -> vec4<u32> {
    let c = clamp(x, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX));
    return vec4<u32>(pack2x16float(c.xy), pack2x16float(c.zw), 0u, 0u);
}

fn kv_put(i: u32, k: vec4<f32>, v: vec4<f32>) {
    textureStore(k_cache, texel(i), pack_half4(k));
    textureStore(v_cache, texel(i), pack_half4(v));
}
