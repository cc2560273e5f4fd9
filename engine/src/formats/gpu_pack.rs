//! Repacks file-layout blocks into the GPU layout. Every shader reads weights with 16-byte
//! (vec4<u32>) loads, so a part is [aligned region][scale region]:
//! - Q4_0, Q4_1, Q5_0, Q8_0: the aligned region holds each block's quant bytes (16 or 32), the
//!   scale region each block's f16 scale (and min, or Q5_0's high bits) in 1 or 2 words;
//! - Q4_K, Q5_K: super-blocks as in the file (144 and 176 bytes are multiples of 16);
//! - Q6_K: super-blocks padded from 210 to 224 bytes, their quant bits regrouped so that each
//!   64-weight pair of sub-blocks a product reads at once lies in 48 contiguous bytes
//!   (quant/q6_k.rs);
//! - F32, F16, BF16: the values as they are.
//!
//! A part ends on a whole 16-byte word (`PART_ALIGN_WORDS`): qdot/q5_0.wgsl loads a block's two
//! scale words as one vec4 with its neighbour's, so a part of an odd number of Q5_0 blocks
//! would otherwise read 8 bytes past its buffer. A partly out-of-bounds vector load may return
//! anything for the whole vector (Vulkan's robustBufferAccess), and drivers differ.

use super::dtype::DType;
use super::FormatError;

/// Every packed part is a whole number of these u32 words (one vec4<u32> load).
pub const PART_ALIGN_WORDS: usize = 4;

/// Packs `rows` rows of `cols` elements of `dtype` from file bytes for the GPU.
pub fn pack_for_gpu(dtype: DType, bytes: &[u8], rows: usize, cols: usize) -> Result<Vec<u32>, FormatError> {
    let ge = dtype.gpu_group_elems();
    if cols == 0 || cols % ge != 0 {
        return Err(FormatError::Shape(format!(
            "{} rows of {cols} elements cannot be packed in {ge}-element groups",
            dtype.name()
        )));
    }
    let n = rows * cols;
    let need = dtype.bytes_for(n as u64)? as usize;
    if bytes.len() < need {
        return Err(FormatError::Truncated(format!(
            "{} bytes for {n} {} elements, need {need}",
            bytes.len(),
            dtype.name()
        )));
    }
    let groups = n / ge;
    let gv = dtype.gpu_group_vec4s() * 16;
    let sw = dtype.gpu_scale_words();
    let mut out = vec![0u32; (groups * (gv / 4 + sw)).next_multiple_of(PART_ALIGN_WORDS)];
    let (aligned, scales) = out.split_at_mut(groups * gv / 4);
    let aligned: &mut [u8] = bytemuck::cast_slice_mut(aligned);
    let scales: &mut [u8] = bytemuck::cast_slice_mut(scales);
    let fb = dtype.block_bytes() * (ge / dtype.block_elems());
    let pack_group = dtype.quant().pack_group;
    for g in 0..groups {
        pack_group(&bytes[g * fb..(g + 1) * fb], &mut aligned[g * gv..(g + 1) * gv], &mut scales[g * sw * 4..(g + 1) * sw * 4]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 16-byte load a kernel makes for a block lies inside the packed part, whatever the
    /// block count: the last Q5_0 block of an odd count shares its scale vec4 with no neighbour.
    #[test]
    fn every_part_ends_on_a_whole_vec4_covering_every_scale_load() {
        for dtype in DType::ALL {
            let ge = dtype.gpu_group_elems();
            for rows in [1usize, 2, 3, 5, 37] {
                let cols = ge;
                let bytes = vec![0u8; dtype.bytes_for((rows * cols) as u64).unwrap() as usize];
                let packed = pack_for_gpu(dtype, &bytes, rows, cols).unwrap();
                assert_eq!(packed.len() % PART_ALIGN_WORDS, 0, "{} x{rows}", dtype.name());
                let groups = rows * cols / ge;
                let sbase = groups * dtype.gpu_group_vec4s() * 4;
                assert_eq!(sbase % PART_ALIGN_WORDS, 0, "{}: scale region off the vec4 grid", dtype.name());
                // qdot/q5_0.wgsl: wv((sbase >> 2) + (blk >> 1)) for each block.
                let last_scale_vec4 = (sbase >> 2) + ((groups - 1) >> 1);
                if dtype == DType::Q5_0 {
                    assert!(last_scale_vec4 < packed.len() / 4, "Q5_0 x{rows}: scale load past the part");
                }
                assert!(groups * (dtype.gpu_group_vec4s() * 4 + dtype.gpu_scale_words()) <= packed.len());
            }
        }
    }
}
