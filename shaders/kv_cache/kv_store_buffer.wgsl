// rope_store.wgsl's appends to the KV cache (bindings 3 and 4) in storage buffers: vec4 i of
// the [kv_head][cache row][head_dim] layout (kv_cache.rs).
@group(0) @binding(3) var<storage, read_write> k_cache: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<vec4<f32>>;

fn kv_put(i: u32, k: vec4<f32>, v: vec4<f32>) {
    k_cache[i] = k;
    v_cache[i] = v;
}
