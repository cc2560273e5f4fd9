//! Q5_0: blocks of 32 weights, an f16 scale, 32 high bits and 16 bytes of low nibbles (minus 16).

use super::{f16_at, QuantType};
use crate::formats::DType;

pub const TYPE: QuantType = QuantType {
    dtype: DType::Q5_0,
    name: "Q5_0",
    ggml_id: 6,
    block_elems: 32,
    block_bytes: 22,
    gpu_group_vec4s: 1,
    gpu_scale_words: 2,
    dequant_block,
    pack_group,
    wgsl_dequant: include_str!("../../../../shaders/dequant/q5_0.wgsl"),
    wgsl_qdot: include_str!("../../../../shaders/matmul/qdot/q5_0.wgsl"),
};

fn dequant_block(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for j in 0..16 {
        let h0 = ((qh >> j) << 4) & 0x10;
        let h1 = (qh >> (j + 12)) & 0x10;
        y[j] = (((b[6 + j] as u32 & 0xF) | h0) as i32 - 16) as f32 * d;
        y[j + 16] = (((b[6 + j] as u32 >> 4) | h1) as i32 - 16) as f32 * d;
    }
}

/// GPU layout: the low nibbles in the aligned region; the scale, then the high bits, in two
/// words.
fn pack_group(src: &[u8], aligned: &mut [u8], scales: &mut [u8]) {
    aligned.copy_from_slice(&src[6..]);
    scales[..2].copy_from_slice(&src[0..2]);
    scales[4..8].copy_from_slice(&src[2..6]);
}
