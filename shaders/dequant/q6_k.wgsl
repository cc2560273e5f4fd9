// Q6_K, 53 words: [128 bytes ql][64 bytes qh][16 signed scales][d | pad]. Two halves of 128
// weights; quarter qd of a half takes ql nibbles (bytes +32*(qd&1), nibble qd>>1) and qh bits
// 2*qd..2*qd+1; w = d * sc * (q - 32).
fn dq8(base: u32, c: u32) -> W8 {
    let sub = c & 31u;
    let o = base + (c >> 5u) * 53u;
    let n = sub >> 4u;
    let qd = (sub & 15u) >> 2u;
    let l = (sub & 3u) * 2u;
    let lo = o + n * 16u + (qd & 1u) * 8u + l;
    let hi = o + 32u + n * 8u + l;
    let si = n * 8u + ((sub & 3u) >> 1u) + qd * 2u;
    let sc = f32(i32(w[o + 48u + si / 4u] << (24u - (si % 4u) * 8u)) >> 24u);
    let d = unpack2x16float(w[o + 52u]).x * sc;
    let lsh = (qd >> 1u) * 4u;
    let hsh = qd * 2u;
    let qa = bytes4(w[lo], lsh, 0xFu) | (bytes4(w[hi], hsh, 3u) << vec4<u32>(4u));
    let qb = bytes4(w[lo + 1u], lsh, 0xFu) | (bytes4(w[hi + 1u], hsh, 3u) << vec4<u32>(4u));
    return W8(d * (vec4<f32>(qa) - 32.0), d * (vec4<f32>(qb) - 32.0));
}
