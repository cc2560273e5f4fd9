//! Q4_K: super-blocks of 256 weights: f16 scale and minimum, eight 6-bit sub-block scales and
//! minimums, 128 bytes of 4-bit quants.

use super::{f16_at, scale_min_k4, QuantType};
use crate::formats::DType;

pub const TYPE: QuantType = QuantType {
    dtype: DType::Q4K,
    name: "Q4_K",
    ggml_id: 12,
    block_elems: 256,
    block_bytes: 144,
    gpu_group_vec4s: 9,
    gpu_scale_words: 0,
    dequant_block,
    pack_group: super::pack_as_is,
    wgsl_dequant: concat!(include_str!("../../../../shaders/dequant/kquant_scales.wgsl"), "\n", include_str!("../../../../shaders/dequant/q4_k.wgsl")),
    wgsl_qdot: include_str!("../../../../shaders/matmul/qdot/q4_k.wgsl"),
};

fn dequant_block(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let scales = &b[4..16];
    let qs = &b[16..144];
    for g in 0..4 {
        let (s1, m1) = scale_min_k4(2 * g, scales);
        let (s2, m2) = scale_min_k4(2 * g + 1, scales);
        let q = &qs[g * 32..g * 32 + 32];
        for l in 0..32 {
            y[g * 64 + l] = d * s1 as f32 * (q[l] & 0xF) as f32 - dmin * m1 as f32;
            y[g * 64 + 32 + l] = d * s2 as f32 * (q[l] >> 4) as f32 - dmin * m2 as f32;
        }
    }
}
