//! Repacks file-layout blocks into the GPU layout: the same bytes, padded so that every field
//! a shader reads starts on a 4-byte boundary (WGSL storage reads are u32-granular).

use super::dtype::DType;
use super::FormatError;

/// Packs `n` elements (a whole number of rows of `row_elems`) of `dtype` for the GPU.
pub fn pack_for_gpu(
    dtype: DType,
    bytes: &[u8],
    n: usize,
    row_elems: usize,
) -> Result<Vec<u32>, FormatError> {
    let gbe = dtype.gpu_block_elems();
    if row_elems == 0 || row_elems % gbe != 0 || n % row_elems != 0 {
        return Err(FormatError::Shape(format!(
            "{} rows of {row_elems} elements cannot be packed in {gbe}-element blocks",
            dtype.name()
        )));
    }
    let need = dtype.bytes_for(n as u64)? as usize;
    if bytes.len() < need {
        return Err(FormatError::Truncated(format!(
            "{} bytes for {n} {} elements, need {need}",
            bytes.len(),
            dtype.name()
        )));
    }
    let blocks = n / gbe;
    let words = dtype.gpu_block_words();
    let file_block = dtype.block_bytes() * (gbe / dtype.block_elems());
    let mut out = vec![0u32; blocks * words];
    let out_bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out);
    for blk in 0..blocks {
        let src = &bytes[blk * file_block..(blk + 1) * file_block];
        let dst = &mut out_bytes[blk * words * 4..(blk + 1) * words * 4];
        match dtype {
            // d (2 bytes) then payload: insert 2 bytes of padding after d.
            DType::Q4_0 | DType::Q5_0 | DType::Q8_0 => {
                dst[0..2].copy_from_slice(&src[0..2]);
                dst[4..4 + file_block - 2].copy_from_slice(&src[2..]);
            }
            // Already aligned, or padded at the end (Q6_K).
            _ => dst[..file_block].copy_from_slice(src),
        }
    }
    Ok(out)
}
