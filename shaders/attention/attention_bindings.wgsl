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

// The CPU-adapter kernels take a token's keys in tiles of KEY_TILE positions that start at
// multiples of KEY_TILE (clipped to the positions the token sees) with an online softmax
// (attention_row.wgsl). The tiles depend only on the token's position, so every kernel gives
// a token the same bits whichever block it comes in.
const KEY_TILE: u32 = 8u;

// The score of a key a token does not see, and the running maximum before any key: every
// weight(UNSEEN - m) is 0, also against NO_MAX, and every real score passes NO_MAX.
const UNSEEN: f32 = -3.0e38;
const NO_MAX: f32 = -1.0e38;

// A softmax weight exp(x), x the score less the running maximum, taken as 0 below -60: such a
// weight is under 1e-26 of the largest (1), lost to rounding in any f32 sum it joins, while the
// exponentials, products and sums of the tail run in denormals, which llvmpipe computes
// without flushing to zero at a fraction of the speed (a cache of far-apart scores took a
// prompt chunk's attention 1.7x longer).
fn weight(x: f32) -> f32 {
    return select(0.0, exp(max(x, -60.0)), x > -60.0);
}

fn weight4(x: vec4<f32>) -> vec4<f32> {
    return select(vec4<f32>(0.0), exp(max(x, vec4<f32>(-60.0))), x > vec4<f32>(-60.0));
}

// The first position a token at `pos` attends to.
fn window_first(pos: u32) -> u32 {
    if (p.window == 0u || pos < p.window) {
        return 0u;
    }
    return pos + 1u - p.window;
}
