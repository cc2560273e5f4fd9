// Parameters and bindings shared by the attention shapes (attention*.wgsl).
struct Params {
    n_head: u32,
    n_kv: u32,
    head_dim: u32,
    ctx: u32,
    scale: f32,
    // Positions a sliding-window layer sees, its own included (0: every earlier one).
    window: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
// Bindings 1 and 2, the KV cache: kv_buffer.wgsl or kv_texture.wgsl.
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<uniform> step: Step;
// (region's first cache row, position) per block token when step.slotted is 1.
@group(0) @binding(7) var<storage, read> slots: array<vec2<u32>>;

// The first position a token at `pos` attends to.
fn window_first(pos: u32) -> u32 {
    if (p.window == 0u || pos < p.window) {
        return 0u;
    }
    return pos + 1u - p.window;
}
