// q6_k: one pair of quarters per call (three vec4s: 32 bytes of low bits, 16 of high bits,
// formats/quant/q6_k.rs `pack_group`) and its scale word; each 16 weights has its own scale:
// sum_j w_j x_j = sum d * sc * (sum q x - 32 * sum x). `xdot` and `xs` from the kernel.
// Four 6-bit weights (0..63): low nibbles of `ql` from bit `lsh`, high bit pairs of `qh` from bit `hsh`.
fn q6(ql: u32, qh: u32, lsh: u32, hsh: u32) -> vec4<f32> {
    return vec4<f32>(bytes4(((ql >> lsh) & 0x0F0F0F0Fu) | (((qh >> hsh) & 0x03030303u) << 4u), 0u, 0xFFu));
}

// The super-block's 16 scale bytes and d, read once for its four calls.
struct HEAD {
    scales: vec4<u32>,
    d: f32,
}
const HEAD_CHUNKS: u32 = 8u;

fn qhead(blk: u32, sbase: u32) -> HEAD {
    let o = (blk >> 3u) * 14u;
    return HEAD(wv(o + 12u), unpack2x16float(wu((o + 13u) * 4u)).x);
}

fn qdot(blk: u32, sbase: u32, xs: XS, hd: HEAD) -> ACC {
    let o = (blk >> 3u) * 14u;
    // The pair (formats/quant/q6_k.rs `pack_group`): quarters A (activation vec4s 0..7) and B (8..15).
    let c = (blk & 6u) >> 1u;
    // The pair's scale word, by selects (dynamic vector indexing is slow on CPU implementations).
    let sw = select(select(hd.scales.x, hd.scales.y, c == 1u), select(hd.scales.z, hd.scales.w, c == 3u), c >= 2u);
    let d = hd.d;
    let sc = vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(sw << 24u, sw << 16u, sw << 8u, sw)) >> vec4<u32>(24u));
    var s0 = ACC();
    var s1 = ACC();
    var s2 = ACC();
    var s3 = ACC();
    // A's and B's first 16 weights (s0, s2), then their last 16 (s1, s3).
    let lo = wv(o + c * 3u);
    let qh = wv(o + c * 3u + 2u);
    for (var i = 0u; i < 4u; i++) {
        s0 += xdot(q6(lo[i], qh[i], 0u, 0u), i);
        s2 += xdot(q6(lo[i], qh[i], 4u, 2u), 8u + i);
    }
    let hi = wv(o + c * 3u + 1u);
    for (var i = 0u; i < 4u; i++) {
        s1 += xdot(q6(hi[i], qh[i], 0u, 4u), 4u + i);
        s3 += xdot(q6(hi[i], qh[i], 4u, 6u), 12u + i);
    }
    // Scales: bytes 0, 1 for A's halves, 2, 3 for B's.
    return d * (sc.x * (s0 - 32.0 * xs[0]) + sc.y * (s1 - 32.0 * xs[1]) + sc.z * (s2 - 32.0 * xs[2]) + sc.w * (s3 - 32.0 * xs[3]));
}
