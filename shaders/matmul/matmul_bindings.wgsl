// Parameters and bindings shared by the product shapes (matmul*.wgsl).
struct Params {
    chunks: u32,
    n: u32,
    sbase: u32,
    y_offset: u32,
    y_stride: u32,
    x_stride: u32,
    accumulate: u32,
    // 0: all `step.m` tokens; 1: the trailing `step.m_logits` tokens only (logits)
    count_sel: u32,
    // RMSNorm epsilon for the fused-norm input stage (row shapes)
    eps_bits: u32,
    // Always 0: `opaque` in xv_load.wgsl tests it so compilers cannot see through a value.
    zero: u32,
    _pad1: u32,
    _pad2: u32,
}

// Binding 1, the activations: activations_buffer.wgsl or activations_texture.wgsl.
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: Step;
// Bindings 0 and 5, the weight part: weights_buffer.wgsl or weights_texture.wgsl.
