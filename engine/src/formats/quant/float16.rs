//! F16: IEEE half floats.

use super::{f16_at, QuantType};
use crate::formats::DType;

pub const TYPE: QuantType = QuantType {
    dtype: DType::F16,
    name: "F16",
    ggml_id: 1,
    block_elems: 1,
    block_bytes: 2,
    gpu_group_vec4s: 4,
    gpu_scale_words: 0,
    dequant_block,
    pack_group: super::pack_as_is,
    wgsl_dequant: include_str!("../../../../shaders/dequant/f16.wgsl"),
    wgsl_qdot: include_str!("../../../../shaders/matmul/qdot/f16.wgsl"),
};

fn dequant_block(b: &[u8], y: &mut [f32]) {
    y[0] = f16_at(b, 0);
}
