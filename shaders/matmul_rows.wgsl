// The same product as matmul.wgsl, shaped for CPU implementations of WebGPU (lavapipe,
// SwiftShader), where invocations are SIMD lanes and barriers are context switches: each
// invocation owns RPI whole rows (so every activation load serves RPI rows), with no shared
// memory and no barrier. Each output is summed over k in chunk order, whatever the token
// count (batch invariant).
struct Params {
    chunks: u32,
    n: u32,
    sbase: u32,
    y_offset: u32,
    y_stride: u32,
    x_stride: u32,
    accumulate: u32,
    count_sel: u32,
}

@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: Step;

const WG: u32 = {{WG}}u;
const TM: u32 = {{TM}}u;
const RPI: u32 = 2u;

fn dot32(wv: W32, xi: u32) -> f32 {
    var s = 0.0;
    for (var i = 0u; i < 8u; i++) {
        s += dot(wv[i], x[xi + i]);
    }
    return s;
}

@compute @workgroup_size(WG)
fn main(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row0 = ((wid.x + wid.y * nwg.x) * WG + lid) * RPI;
    if (row0 >= p.n) {
        return;
    }
    // A missing second row re-reads the first and is never written.
    let row1 = min(row0 + 1u, p.n - 1u);
    let m = select(step.m, step.m_logits, p.count_sel == 1u);
    let xs = p.x_stride / 4u;
    for (var t0 = 0u; t0 < m; t0 += TM) {
        let tn = min(TM, m - t0);
        var acc: array<vec2<f32>, TM>;
        for (var c = 0u; c < p.chunks; c++) {
            let w0 = dq32(row0 * p.chunks + c, p.sbase);
            let w1 = dq32(row1 * p.chunks + c, p.sbase);
            for (var t = 0u; t < tn; t++) {
                let xi = (t0 + t) * xs + c * 8u;
                acc[t] += vec2<f32>(dot32(w0, xi), dot32(w1, xi));
            }
        }
        for (var t = 0u; t < tn; t++) {
            for (var r = 0u; r < RPI; r++) {
                if (row0 + r < p.n) {
                    let yi = (t0 + t) * p.y_stride + p.y_offset + row0 + r;
                    var v = acc[t][r];
                    if (p.accumulate == 1u) {
                        v += y[yi];
                    }
                    y[yi] = v;
                }
            }
        }
    }
}
