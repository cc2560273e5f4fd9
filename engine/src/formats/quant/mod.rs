//! Each weight type in one module: its GGUF id and name, its block, its CPU dequantizer (the
//! reference the kernels are tested against), how its blocks are packed for the GPU
//! (gpu_pack.rs lays out the parts) and its WGSL dequantizer and row-shape dot product.
//! `TYPES` is the one table of them; `DType` reads it.

use super::dtype::DType;
use half::f16;

mod bfloat16;
mod float16;
mod float32;
mod q4_0;
mod q4_1;
mod q4_k;
mod q5_0;
mod q5_k;
mod q6_k;
mod q8_0;

pub struct QuantType {
    pub dtype: DType,
    /// ggml's name (Q4_K, not Q4K).
    pub name: &'static str,
    pub ggml_id: u32,
    /// Elements and bytes of one block in the file.
    pub block_elems: usize,
    pub block_bytes: usize,
    /// 16-byte words of one GPU group (gpu_pack.rs) in the aligned region.
    pub gpu_group_vec4s: usize,
    /// u32 words of one GPU group in the scale region.
    pub gpu_scale_words: usize,
    /// One file block into `block_elems` floats.
    pub dequant_block: fn(&[u8], &mut [f32]),
    /// One GPU group's file bytes into its aligned bytes and its scale bytes.
    pub pack_group: fn(&[u8], &mut [u8], &mut [u8]),
    /// `dq32` and what it needs (shaders/dequant/), after shaders/dequant/common.wgsl.
    pub wgsl_dequant: &'static str,
    /// `qdot` of the row-shaped product (shaders/matmul/qdot/).
    pub wgsl_qdot: &'static str,
}

/// Every type the engine loads, in `DType::ALL`'s order.
pub const TYPES: [&QuantType; 10] = [&float32::TYPE, &float16::TYPE, &bfloat16::TYPE, &q4_0::TYPE, &q4_1::TYPE, &q5_0::TYPE, &q8_0::TYPE, &q4_k::TYPE, &q5_k::TYPE, &q6_k::TYPE];

pub(crate) fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[i], b[i + 1]])).to_f32()
}

/// The 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K super-block.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// Types whose GPU layout is the file's (floats, Q4_K and Q5_K super-blocks): the file bytes,
/// the group's padding left zero.
fn pack_as_is(src: &[u8], aligned: &mut [u8], _scales: &mut [u8]) {
    aligned[..src.len()].copy_from_slice(src);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_follows_dtype_all_and_its_ids_are_distinct() {
        for (t, d) in TYPES.iter().zip(DType::ALL) {
            assert_eq!(t.dtype, d);
        }
        let ids: std::collections::HashSet<u32> = TYPES.iter().map(|t| t.ggml_id).collect();
        assert_eq!(ids.len(), TYPES.len());
    }
}
