// The same product as matmul.wgsl, shaped for CPU implementations of WebGPU (lavapipe,
// SwiftShader), where invocations are SIMD lanes and barriers are context switches: each
// invocation owns RPI whole rows, with no workgroup memory and no barrier. `qdot` (per type)
// dots a 32-weight chunk with activations `xv` (appended: plain loads, or subgroup shuffles)
// of the input stage `x_in` (appended: plain, with a fused RMSNorm, or with a fused SiLU gate);
// offsets and minimums fold into one term per chunk through the activation sums.
// Every token runs the same code in the same order, so a position's outputs are identical
// whatever the block size (batch invariance).
// Parameters and bindings: matmul_bindings.wgsl.
// RMSNorm gain for the fused-norm input stage (unused by the others).
@group(0) @binding(6) var<storage, read> gain: array<vec4<f32>>;

const WG: u32 = {{WG}}u;
const RPI: u32 = 4u;
// 32-weight chunks per `qdot` call: 2 for K-quants, whose sub-block pairs share loads.
const CPQ: u32 = {{CPQ}}u;

// Sums of each 16 activations of the call's chunks (zero past CPQ chunks).
fn xsum() -> vec4<f32> {
    let one = vec4<f32>(1.0);
    var r = vec4<f32>(
        dot(xv(0u) + xv(1u), one) + dot(xv(2u) + xv(3u), one),
        dot(xv(4u) + xv(5u), one) + dot(xv(6u) + xv(7u), one),
        0.0,
        0.0,
    );
    if (CPQ == 2u) {
        r.z = dot(xv(8u) + xv(9u), one) + dot(xv(10u) + xv(11u), one);
        r.w = dot(xv(12u) + xv(13u), one) + dot(xv(14u) + xv(15u), one);
    }
    return r;
}

@compute @workgroup_size(WG)
fn main(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    {{LANE_PARAM}}
) {
    let first = ((wid.x + wid.y * nwg.x) * WG + lid) * RPI;
    // Invocations past the last row work on it (subgroups stay full) and write nothing.
    let last = p.n - 1u;
    let b0 = min(first, last) * p.chunks;
    let b1 = min(first + 1u, last) * p.chunks;
    let b2 = min(first + 2u, last) * p.chunks;
    let b3 = min(first + 3u, last) * p.chunks;
    let m = select(step.m, step.m_logits, p.count_sel == 1u);
    for (var t = 0u; t < m; t++) {
        x_token(t, {{LANE_ID}});
        var a = vec4<f32>(0.0);
        for (var c = 0u; c < p.chunks; c += CPQ) {
            x_begin(t, c * 8u, {{LANE_ID}});
            let s = xsum();
            a += vec4<f32>(qdot(b0 + c, p.sbase, s), qdot(b1 + c, p.sbase, s), qdot(b2 + c, p.sbase, s), qdot(b3 + c, p.sbase, s));
        }
        for (var r = 0u; r < RPI; r++) {
            if (first + r < p.n) {
                let yi = t * p.y_stride + p.y_offset + first + r;
                var o = a[r];
                if (p.accumulate == 1u) {
                    o += y[yi];
                }
                y[yi] = o;
            }
        }
    }
}
