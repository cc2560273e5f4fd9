//! BF16: bfloat16, the top half of an f32.

use super::QuantType;
use crate::formats::DType;

pub const TYPE: QuantType = QuantType {
    dtype: DType::BF16,
    name: "BF16",
    ggml_id: 30,
    block_elems: 1,
    block_bytes: 2,
    gpu_group_vec4s: 4,
    gpu_scale_words: 0,
    dequant_block,
    pack_group: super::pack_as_is,
    wgsl_dequant: include_str!("../../../../shaders/dequant/bf16.wgsl"),
    wgsl_qdot: include_str!("../../../../shaders/matmul/qdot/bf16.wgsl"),
};

fn dequant_block(b: &[u8], y: &mut [f32]) {
    y[0] = half::bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32();
}
