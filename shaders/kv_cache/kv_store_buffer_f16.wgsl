// rope_store.wgsl's appends to an f16 KV cache (bindings 3 and 4) in storage buffers: vec4 i
// of the [kv_head][cache row][head_dim] layout as the four halves of word pair i.
@group(0) @binding(3) var<storage, read_write> k_cache: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<vec2<u32>>;

// pack2x16float is indeterminate outside f16's range: values past it saturate.
const F16_MAX: f32 = 65504.0;

fn pack_half4(x: vec4<f32>) -> vec2<u32> {
    let c = clamp(x, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX));
    return vec2<u32>(pack2x16float(c.xy), pack2x16float(c.zw));
}

fn kv_put(i: u32, k: vec4<f32>, v: vec4<f32>) {
    k_cache[i] = pack_half4(k);
    v_cache[i] = pack_half4(v);
}
