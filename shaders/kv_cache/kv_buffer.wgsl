// Attention's view of the KV cache (bindings 1 and 2) in storage buffers: vec4 i of the
// [kv_head][cache row][head_dim] layout (kv_cache.rs).
@group(0) @binding(1) var<storage, read> k_cache: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> v_cache: array<vec4<f32>>;

fn k_at(i: u32) -> vec4<f32> {
    return k_cache[i];
}

fn v_at(i: u32) -> vec4<f32> {
    return v_cache[i];
}
