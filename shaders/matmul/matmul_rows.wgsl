// The same product as matmul.wgsl, shaped for CPU implementations of WebGPU (lavapipe,
// SwiftShader), where invocations are SIMD lanes and barriers are context switches: each
// invocation owns RPI whole rows, with no workgroup memory and no barrier. Tokens go through
// in tiles of TT (rows_tile1.wgsl: one; rows_tile4.wgsl: four, for blocks), so a tile decodes
// each weight once for all its tokens: ACC holds one sum per token of the tile.
// `qdot` (per type) dots a 32-weight chunk with the tile's activations through `xdot`, which
// reads `xv` (appended: plain loads, or subgroup shuffles) of the input stage `x_in`
// (appended: plain, with a fused RMSNorm, or with a fused SiLU gate); offsets and minimums
// fold into one term per chunk through the activation sums. `qhead` (per type) reads what the
// calls of a group of HEAD_CHUNKS chunks share (a K-quant super-block's header) once.
// Every token runs the same arithmetic in the same order whatever its tile, so a position's
// outputs are identical whatever the block size (batch invariance).
// Parameters and bindings: matmul_bindings.wgsl.
// RMSNorm gain for the fused-norm input stage (unused by the others).
@group(0) @binding(6) var<storage, read> gain: array<vec4<f32>>;

const WG: u32 = {{WG}}u;
const RPI: u32 = 4u;
// 32-weight chunks per `qdot` call: 2 for K-quants, whose sub-block pairs share loads.
const CPQ: u32 = {{CPQ}}u;
// Tokens per tile of the block kernel (shaders.rs ROWS_TILE, also dispatch::tiled_end's).
const BLOCK_TT: u32 = {{BLOCK_TT}}u;

// The token in each slot of the tile (past the block's end: its last token, not written).
var<private> x_tok: array<u32, TT>;

// w4 times the i-th activation vec4 of each token: the same sum, in the same order, as a
// one-token tile computes (XV's column j holds component j of every token).
fn xdot(w4: vec4<f32>, i: u32) -> ACC {
    let v = xv(i);
    return w4.x * v[0] + w4.y * v[1] + w4.z * v[2] + w4.w * v[3];
}

// Sum of the 16 activations in vec4s i0..i0+3, per token.
fn xsum16(i0: u32) -> ACC {
    let v = xv(i0) + xv(i0 + 1u) + xv(i0 + 2u) + xv(i0 + 3u);
    return v[0] + v[1] + v[2] + v[3];
}

// Sums of each 16 activations of the call's chunks (zero past CPQ chunks).
fn xsum() -> XS {
    if (CPQ == 2u) {
        return XS(xsum16(0u), xsum16(4u), xsum16(8u), xsum16(12u));
    }
    return XS(xsum16(0u), xsum16(4u), ACC(), ACC());
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
    // Uniforms read once: llvmpipe loads one inside a loop lane by lane, every trip.
    let chunks = p.chunks;
    let sbase = p.sbase;
    let b0 = min(first, last) * chunks;
    let b1 = min(first + 1u, last) * chunks;
    let b2 = min(first + 2u, last) * chunks;
    let b3 = min(first + 3u, last) * chunks;
    let m = select(step.m, step.m_logits, p.count_sel == 1u);
    // Tokens [0, tiled) go through four-token tiles, [tiled, m) one at a time, by the rule
    // Dispatch::encode launches them with: a lone last token costs less alone than padded.
    let tiled = select(m, m - 1u, m % BLOCK_TT == 1u);
    let t_begin = select(0u, tiled, TT == 1u);
    let t_end = select(m, tiled, TT != 1u);
    for (var t0 = t_begin; t0 < t_end; t0 += TT) {
        for (var s = 0u; s < TT; s++) {
            x_tok[s] = min(t0 + s, t_end - 1u);
            x_token(s, {{LANE_ID}});
        }
        var a = ROWS();
        var h0: HEAD;
        var h1: HEAD;
        var h2: HEAD;
        var h3: HEAD;
        for (var c = 0u; c < chunks; c += CPQ) {
            // What a group of calls shares (a K-quant super-block's header) is read once:
            // loads are what costs most on CPU implementations. Rows hold whole groups.
            if (c % HEAD_CHUNKS == 0u) {
                h0 = qhead(b0 + c, sbase);
                h1 = qhead(b1 + c, sbase);
                h2 = qhead(b2 + c, sbase);
                h3 = qhead(b3 + c, sbase);
            }
            x_begin(c * 8u, {{LANE_ID}});
            let s = xsum();
            a += ROWS(qdot(b0 + c, sbase, s, h0), qdot(b1 + c, sbase, s, h1), qdot(b2 + c, sbase, s, h2), qdot(b3 + c, sbase, s, h3));
        }
        for (var r = 0u; r < RPI; r++) {
            for (var s = 0u; s < TT; s++) {
                if (first + r < p.n && t0 + s < t_end) {
                    let yi = (t0 + s) * p.y_stride + p.y_offset + first + r;
                    var o = slot(a[r], s);
                    if (p.accumulate == 1u) {
                        o += y[yi];
                    }
                    y[yi] = o;
                }
            }
        }
    }
}
