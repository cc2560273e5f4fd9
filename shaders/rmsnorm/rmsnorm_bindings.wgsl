// Parameters and bindings shared by the RMSNorm shapes (rmsnorm*.wgsl).

// 1: y += the normed row (gemma's norms after attention and the FFN, onto the residual);
// 0: y = the normed row. Fixed when the pipeline is built.
const ADD: u32 = {{ADD}}u;
struct Params {
    n: u32,
    eps: f32,
    // 0: all step.m tokens; 1: only the trailing step.m_logits tokens (final norm before logits)
    count_sel: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: Step;
