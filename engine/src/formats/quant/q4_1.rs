//! Q4_1: blocks of 32 weights, an f16 scale and minimum and 16 bytes of 4-bit quants.

use super::{f16_at, QuantType};
use crate::formats::DType;

pub const TYPE: QuantType = QuantType {
    dtype: DType::Q4_1,
    name: "Q4_1",
    ggml_id: 3,
    block_elems: 32,
    block_bytes: 20,
    gpu_group_vec4s: 1,
    gpu_scale_words: 1,
    dequant_block,
    pack_group,
    wgsl_dequant: include_str!("../../../../shaders/dequant/q4_1.wgsl"),
    wgsl_qdot: include_str!("../../../../shaders/matmul/qdot/q4_1.wgsl"),
};

fn dequant_block(b: &[u8], y: &mut [f32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    for j in 0..16 {
        y[j] = (b[4 + j] & 0xF) as f32 * d + m;
        y[j + 16] = (b[4 + j] >> 4) as f32 * d + m;
    }
}

/// GPU layout: the quants in the aligned region, scale and minimum in one word.
fn pack_group(src: &[u8], aligned: &mut [u8], scales: &mut [u8]) {
    aligned.copy_from_slice(&src[4..]);
    scales[..4].copy_from_slice(&src[0..4]);
}
