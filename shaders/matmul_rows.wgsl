// The same product as matmul.wgsl, shaped for CPU implementations of WebGPU (lavapipe,
// SwiftShader), where invocations are SIMD lanes and barriers are context switches: each
// invocation owns RPI (2) whole rows (so every activation load serves RPI rows), with no shared
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
// The weight part again, as words, for scale reads.
@group(0) @binding(5) var<storage, read> ws: array<u32>;

const WG: u32 = {{WG}}u;
const RPI: u32 = 2u;

fn dot32(wv: W32, xi: u32) -> f32 {
    var s = 0.0;
    for (var i = 0u; i < 8u; i++) {
        s += dot(wv[i], x[xi + i]);
    }
    return s;
}

fn store(t: u32, row0: u32, v: vec2<f32>) {
    for (var r = 0u; r < RPI; r++) {
        if (row0 + r < p.n) {
            let yi = t * p.y_stride + p.y_offset + row0 + r;
            var o = v[r];
            if (p.accumulate == 1u) {
                o += y[yi];
            }
            y[yi] = o;
        }
    }
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
    let b0 = row0 * p.chunks;
    let b1 = min(row0 + 1u, p.n - 1u) * p.chunks;
    let m = select(step.m, step.m_logits, p.count_sel == 1u);
    let xs = p.x_stride / 4u;
    if (m == 1u) {
        // Decode: the same sums as token 0 of a tile below, without the tile's branches.
        var a = vec2<f32>(0.0);
        for (var c = 0u; c < p.chunks; c++) {
            let w0 = dq32(b0 + c, p.sbase);
            let w1 = dq32(b1 + c, p.sbase);
            let xi = c * 8u;
            a += vec2<f32>(dot32(w0, xi), dot32(w1, xi));
        }
        store(0u, row0, a);
        return;
    }
    // Tokens in tiles of 4, one accumulator each: indexing a private array by the token spills
    // to memory on CPU implementations.
    for (var t0 = 0u; t0 < m; t0 += 4u) {
        let tn = min(4u, m - t0);
        var a0 = vec2<f32>(0.0);
        var a1 = vec2<f32>(0.0);
        var a2 = vec2<f32>(0.0);
        var a3 = vec2<f32>(0.0);
        for (var c = 0u; c < p.chunks; c++) {
            let w0 = dq32(b0 + c, p.sbase);
            let w1 = dq32(b1 + c, p.sbase);
            let xi = t0 * xs + c * 8u;
            a0 += vec2<f32>(dot32(w0, xi), dot32(w1, xi));
            if (tn > 1u) {
                a1 += vec2<f32>(dot32(w0, xi + xs), dot32(w1, xi + xs));
            }
            if (tn > 2u) {
                a2 += vec2<f32>(dot32(w0, xi + 2u * xs), dot32(w1, xi + 2u * xs));
            }
            if (tn > 3u) {
                a3 += vec2<f32>(dot32(w0, xi + 3u * xs), dot32(w1, xi + 3u * xs));
            }
        }
        store(t0, row0, a0);
        if (tn > 1u) {
            store(t0 + 1u, row0, a1);
        }
        if (tn > 2u) {
            store(t0 + 2u, row0, a2);
        }
        if (tn > 3u) {
            store(t0 + 3u, row0, a3);
        }
    }
}
