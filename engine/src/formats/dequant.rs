//! Plain CPU dequantizers, written from the GGML block definitions. They are the reference the
//! GPU kernels are tested against and the source of the CPU reference forward pass.

use super::dtype::DType;
use super::FormatError;
use half::{bf16, f16};

fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[i], b[i + 1]])).to_f32()
}

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
    for (blk, y) in out.chunks_mut(be).enumerate() {
        let b = &bytes[blk * bb..(blk + 1) * bb];
        match dtype {
            DType::F32 => y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            DType::F16 => y[0] = f16_at(b, 0),
            DType::BF16 => y[0] = bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32(),
            DType::Q4_0 => {
                let d = f16_at(b, 0);
                for j in 0..16 {
                    y[j] = ((b[2 + j] & 0xF) as i32 - 8) as f32 * d;
                    y[j + 16] = ((b[2 + j] >> 4) as i32 - 8) as f32 * d;
                }
            }
            DType::Q4_1 => {
                let (d, m) = (f16_at(b, 0), f16_at(b, 2));
                for j in 0..16 {
                    y[j] = (b[4 + j] & 0xF) as f32 * d + m;
                    y[j + 16] = (b[4 + j] >> 4) as f32 * d + m;
                }
            }
            DType::Q5_0 => {
                let d = f16_at(b, 0);
                let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                for j in 0..16 {
                    let h0 = ((qh >> j) << 4) & 0x10;
                    let h1 = (qh >> (j + 12)) & 0x10;
                    y[j] = (((b[6 + j] as u32 & 0xF) | h0) as i32 - 16) as f32 * d;
                    y[j + 16] = (((b[6 + j] as u32 >> 4) | h1) as i32 - 16) as f32 * d;
                }
            }
            DType::Q8_0 => {
                let d = f16_at(b, 0);
                for j in 0..32 {
                    y[j] = b[2 + j] as i8 as f32 * d;
                }
            }
            DType::Q4K => {
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
            DType::Q5K => {
                let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
                let scales = &b[4..16];
                let qh = &b[16..48];
                let qs = &b[48..176];
                for g in 0..4 {
                    let (s1, m1) = scale_min_k4(2 * g, scales);
                    let (s2, m2) = scale_min_k4(2 * g + 1, scales);
                    let q = &qs[g * 32..g * 32 + 32];
                    for l in 0..32 {
                        let h1 = if qh[l] & (1 << (2 * g)) != 0 { 16 } else { 0 };
                        let h2 = if qh[l] & (2 << (2 * g)) != 0 { 16 } else { 0 };
                        y[g * 64 + l] =
                            d * s1 as f32 * ((q[l] & 0xF) + h1) as f32 - dmin * m1 as f32;
                        y[g * 64 + 32 + l] =
                            d * s2 as f32 * ((q[l] >> 4) + h2) as f32 - dmin * m2 as f32;
                    }
                }
            }
            DType::Q6K => {
                let d = f16_at(b, 208);
                for n in 0..2 {
                    let ql = &b[n * 64..n * 64 + 64];
                    let qh = &b[128 + n * 32..128 + n * 32 + 32];
                    let sc = &b[192 + n * 8..192 + n * 8 + 8];
                    for l in 0..32 {
                        let is = l / 16;
                        let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
                        let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                        let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                        let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                        let y = &mut y[n * 128..];
                        y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
                        y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                        y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                        y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K super-block.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}
