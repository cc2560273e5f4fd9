//! Repacks file-layout blocks into the GPU layout. Every shader reads weights with 16-byte
//! (vec4<u32>) loads, so a part is [aligned region][scale region]:
//! - Q4_0, Q4_1, Q5_0, Q8_0: the aligned region holds each block's quant bytes (16 or 32), the
//!   scale region each block's f16 scale (and min, or Q5_0's high bits) in 1 or 2 words;
//! - Q4_K, Q5_K: super-blocks as in the file (144 and 176 bytes are multiples of 16);
//! - Q6_K: super-blocks padded from 210 to 224 bytes;
//! - F32, F16, BF16: the values as they are.

use super::dtype::DType;
use super::FormatError;

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
    let mut out = vec![0u32; groups * (gv / 4 + sw)];
    let (aligned, scales) = out.split_at_mut(groups * gv / 4);
    let aligned: &mut [u8] = bytemuck::cast_slice_mut(aligned);
    let scales: &mut [u8] = bytemuck::cast_slice_mut(scales);
    let fb = dtype.block_bytes() * (ge / dtype.block_elems());
    for g in 0..groups {
        let src = &bytes[g * fb..(g + 1) * fb];
        let dst = &mut aligned[g * gv..(g + 1) * gv];
        match dtype {
            DType::Q4_0 | DType::Q8_0 => {
                dst.copy_from_slice(&src[2..]);
                scales[g * 4..g * 4 + 2].copy_from_slice(&src[0..2]);
            }
            DType::Q4_1 => {
                dst.copy_from_slice(&src[4..]);
                scales[g * 4..g * 4 + 4].copy_from_slice(&src[0..4]);
            }
            DType::Q5_0 => {
                dst.copy_from_slice(&src[6..]);
                scales[g * 8..g * 8 + 2].copy_from_slice(&src[0..2]);
                scales[g * 8 + 4..g * 8 + 8].copy_from_slice(&src[2..6]);
            }
            _ => dst[..fb].copy_from_slice(src),
        }
    }
    Ok(out)
}
