// Weight access for kernels that read a quantized weight part (binding 0) from an rgba32uint
// texture, the part's 16-byte words laid out by texel.wgsl: the same indices as
// weights_buffer.wgsl. On CPU implementations of WebGPU a texel fetch is a gather without
// branches, where a storage load with per-invocation addresses is a per-lane loop with
// bounds checks; read as a read-only storage texture it costs about a fifth less than
// sampled (no level, no sampler state; docs/perf.md).
@group(0) @binding(0) var w: texture_storage_2d<rgba32uint, read>;

fn wv(i: u32) -> vec4<u32> {
    return textureLoad(w, texel(i));
}

fn wu(i: u32) -> u32 {
    return wv(i >> 2u)[i & 3u];
}
