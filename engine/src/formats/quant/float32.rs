//! F32: plain 4-byte floats.

use super::QuantType;
use crate::formats::DType;

pub const TYPE: QuantType = QuantType {
    dtype: DType::F32,
    name: "F32",
    ggml_id: 0,
    block_elems: 1,
    block_bytes: 4,
    gpu_group_vec4s: 8,
    gpu_scale_words: 0,
    dequant_block,
    pack_group: super::pack_as_is,
    wgsl_dequant: include_str!("../../../../shaders/dequant/f32.wgsl"),
    wgsl_qdot: include_str!("../../../../shaders/matmul/qdot/f32.wgsl"),
};

fn dequant_block(b: &[u8], y: &mut [f32]) {
    y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
}
