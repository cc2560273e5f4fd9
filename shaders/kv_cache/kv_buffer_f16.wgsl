// Attention's view of an f16 KV cache (bindings 1 and 2) in storage buffers: vec4 i of the
// [kv_head][cache row][head_dim] layout (kv_cache.rs) is the four halves of word pair i.
// Unpacked in the shader, so no device needs WGSL's f16 extension.
@group(0) @binding(1) var<storage, read> k_cache: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> v_cache: array<vec2<u32>>;

fn k_at(i: u32) -> vec4<f32> {
    let w = k_cache[i];
    return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}

fn v_at(i: u32) -> vec4<f32> {
    let w = v_cache[i];
    return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}
