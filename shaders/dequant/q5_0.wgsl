// Q5_0: Q4_0's nibbles plus a 5th bit per weight (bit j of qh for weight j); the scale region
// holds (d, qh) per block; w = (q - 16) * d.
fn dq32(blk: u32, sbase: u32) -> W32 {
    let q = wv(blk);
    let d = unpack2x16float(wu(sbase + 2u * blk)).x;
    let qh = wu(sbase + 2u * blk + 1u);
    var r: W32;
    for (var i = 0u; i < 4u; i++) {
        let lo = (vec4<u32>(qh >> (4u * i)) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u);
        let hi = (vec4<u32>(qh >> (4u * i + 16u)) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u);
        r[i] = (vec4<f32>(bytes4(q[i], 0u, 0xFu) | (lo << vec4<u32>(4u))) - 16.0) * d;
        r[i + 4u] = (vec4<f32>(bytes4(q[i], 4u, 0xFu) | (hi << vec4<u32>(4u))) - 16.0) * d;
    }
    return r;
}
