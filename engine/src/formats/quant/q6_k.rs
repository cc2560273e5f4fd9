//! Q6_K: super-blocks of 256 weights: 128 bytes of low nibbles, 64 of high bit pairs, sixteen
//! signed 8-bit sub-block scales and an f16 scale.

use super::{f16_at, QuantType};
use crate::formats::DType;

pub const TYPE: QuantType = QuantType {
    dtype: DType::Q6K,
    name: "Q6_K",
    ggml_id: 14,
    block_elems: 256,
    block_bytes: 210,
    gpu_group_vec4s: 14,
    gpu_scale_words: 0,
    dequant_block,
    pack_group,
    wgsl_dequant: include_str!("../../../../shaders/dequant/q6_k.wgsl"),
    wgsl_qdot: include_str!("../../../../shaders/matmul/qdot/q6_k.wgsl"),
};

fn dequant_block(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 208);
    for n in 0..2 {
        let ql = &b[n * 64..n * 64 + 64];
        let qh = &b[128 + n * 32..128 + n * 32 + 32];
        let sc = &b[192 + n * 8..192 + n * 8 + 8];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            let y = &mut y[n * 128..];
            y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
            y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
            y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
            y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
        }
    }
}

/// One Q6_K super-block (file: ql[128] qh[64] scales[16] d[2]) in the GPU layout: four
/// 48-byte pairs, then the scales and d at their file offsets (192, 208).
/// In the file, quarter q (0..3) of half n takes weight l's low four bits from nibble q / 2 of
/// ql[n*64 + (q%2)*32 + l] and its high two from bits 2q of qh[n*32 + l], so a product reading
/// quarters 2p and 2p+1 (a pair) loaded 96 bytes and used half of them. Pair c = 2n + p
/// (weights l of its quarters A = 2p, B = 2p + 1) becomes:
/// - bytes 0..32: byte l = A's low bits | B's << 4 (the layout of a Q4_K pair's 32 bytes);
/// - bytes 32..48: byte i = A's high bits of weight i | B's of i << 2 | A's of 16 + i << 4 |
///   B's of 16 + i << 6.
/// shaders/matmul/qdot/q6_k.wgsl and shaders/dequant/q6_k.wgsl read it.
fn pack_group(src: &[u8], dst: &mut [u8], _scales: &mut [u8]) {
    let (ql, qh) = (&src[..128], &src[128..192]);
    let low = |q: usize, n: usize, l: usize| (ql[n * 64 + (q % 2) * 32 + l] >> ((q / 2) * 4)) & 0xF;
    let high = |q: usize, n: usize, l: usize| (qh[n * 32 + l] >> (2 * q)) & 3;
    for c in 0..4 {
        let (n, p) = (c / 2, c % 2);
        let (a, b) = (2 * p, 2 * p + 1);
        let pair = &mut dst[c * 48..(c + 1) * 48];
        for l in 0..32 {
            pair[l] = low(a, n, l) | low(b, n, l) << 4;
        }
        for i in 0..16 {
            pair[32 + i] = high(a, n, i) | high(b, n, i) << 2 | high(a, n, 16 + i) << 4 | high(b, n, 16 + i) << 6;
        }
    }
    dst[192..210].copy_from_slice(&src[192..210]);
}
