// A row-shaped product's input, staged once per token into an rgba32float texture
// (activations_texture.wgsl's layout) with its input stage applied: MODE 0 the row as it is,
// 1 RMSNorm times a gain, 2 silu(gate) * up from [gate | up] rows. One workgroup per token
// (the grid's y); a fixed reduction tree for the sum of squares, so a token's values do not
// depend on the block around it.
struct Params {
    // vec4s per product input row (K / 4)
    n4: u32,
    // vec4s between rows of x
    x_stride4: u32,
    // 0: all step.m tokens; 1: the trailing step.m_logits tokens only (x holds just those)
    count_sel: u32,
    eps_bits: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var xt: texture_storage_2d<rgba32float, write>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> step: Step;
@group(0) @binding(4) var<storage, read> gain: array<vec4<f32>>;

const MODE: u32 = {{MODE}}u;
const WG: u32 = 64u;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let t = wid.y;
    let count = select(step.m, step.m_logits, p.count_sel == 1u);
    if (t >= count) {
        return;
    }
    let row = t * p.x_stride4;
    var scale = 1.0;
    if (MODE == 1u) {
        var s = 0.0;
        for (var i = lid; i < p.n4; i += WG) {
            let v = x[row + i];
            s += dot(v, v);
        }
        partial[lid] = s;
        workgroupBarrier();
        for (var h = WG / 2u; h > 0u; h >>= 1u) {
            if (lid < h) {
                partial[lid] += partial[lid + h];
            }
            workgroupBarrier();
        }
        scale = 1.0 / sqrt(partial[0] / f32(p.n4 * 4u) + bitcast<f32>(p.eps_bits));
    }
    for (var i = lid; i < p.n4; i += WG) {
        var v = x[row + i];
        if (MODE == 1u) {
            v = v * scale * gain[i];
        } else if (MODE == 2u) {
            v = v / (1.0 + exp(-v)) * x[row + p.n4 + i];
        }
        let o = t * p.n4 + i;
        textureStore(xt, texel(o), v);
    }
}
