//! Plain CPU dequantization, block by block through each type's dequantizer (formats/quant/,
//! written from the GGML block definitions): the reference the GPU kernels are tested against
//! and the source of the CPU reference forward pass.

use super::dtype::DType;
use super::FormatError;

/// Dequantizes `n` elements of type `dtype` from `bytes` (file layout) into f32.
pub fn dequantize(dtype: DType, bytes: &[u8], n: usize) -> Result<Vec<f32>, FormatError> {
    let need = dtype.bytes_for(n as u64)? as usize;
    if bytes.len() < need {
        return Err(FormatError::Truncated(format!(
            "{} bytes for {n} {} elements, need {need}",
            bytes.len(),
            dtype.name()
        )));
    }
    let mut out = vec![0f32; n];
    let bb = dtype.block_bytes();
    let be = dtype.block_elems();
    let dequant_block = dtype.quant().dequant_block;
    for (blk, y) in out.chunks_mut(be).enumerate() {
        dequant_block(&bytes[blk * bb..(blk + 1) * bb], y);
    }
    Ok(out)
}
