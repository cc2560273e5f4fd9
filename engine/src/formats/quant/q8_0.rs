//! Q8_0: blocks of 32 weights, an f16 scale and 32 signed bytes.

use super::{f16_at, QuantType};
use crate::formats::DType;

pub const TYPE: QuantType = QuantType {
    dtype: DType::Q8_0,
    name: "Q8_0",
    ggml_id: 8,
    block_elems: 32,
    block_bytes: 34,
    gpu_group_vec4s: 2,
    gpu_scale_words: 1,
    dequant_block,
    pack_group,
    wgsl_dequant: include_str!("../../../../shaders/dequant/q8_0.wgsl"),
    wgsl_qdot: include_str!("../../../../shaders/matmul/qdot/q8_0.wgsl"),
};

fn dequant_block(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for j in 0..32 {
        y[j] = b[2 + j] as i8 as f32 * d;
    }
}

/// GPU layout: the quants in the aligned region, the scale in one word.
fn pack_group(src: &[u8], aligned: &mut [u8], scales: &mut [u8]) {
    aligned.copy_from_slice(&src[2..]);
    scales[..2].copy_from_slice(&src[0..2]);
}
