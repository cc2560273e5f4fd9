//! Random tensors in every supported element type, in file layout, with sane scales.

use cospec::formats::DType;
use half::{bf16, f16};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn put_f16(out: &mut Vec<u8>, v: f32) {
    out.extend_from_slice(&f16::from_f32(v).to_bits().to_le_bytes());
}

/// `n` elements (a whole number of blocks) of `dtype` with values of magnitude about `scale`.
pub fn random_tensor(dtype: DType, n: usize, scale: f32, r: &mut StdRng) -> Vec<u8> {
    assert_eq!(n % dtype.block_elems(), 0);
    let mut out = Vec::with_capacity(dtype.bytes_for(n as u64).unwrap() as usize);
    let blocks = n / dtype.block_elems();
    let bytes = |out: &mut Vec<u8>, k: usize, r: &mut StdRng| {
        for _ in 0..k {
            out.push(r.random::<u8>());
        }
    };
    for _ in 0..blocks {
        match dtype {
            DType::F32 => out.extend_from_slice(&(r.random_range(-1.0f32..1.0) * scale).to_le_bytes()),
            DType::F16 => put_f16(&mut out, r.random_range(-1.0f32..1.0) * scale),
            DType::BF16 => out.extend_from_slice(&bf16::from_f32(r.random_range(-1.0f32..1.0) * scale).to_bits().to_le_bytes()),
            DType::Q4_0 => {
                put_f16(&mut out, r.random_range(0.2f32..1.0) * scale / 8.0);
                bytes(&mut out, 16, r);
            }
            DType::Q4_1 => {
                put_f16(&mut out, r.random_range(0.2f32..1.0) * scale / 8.0);
                put_f16(&mut out, -r.random_range(0.5f32..1.0) * scale);
                bytes(&mut out, 16, r);
            }
            DType::Q5_0 => {
                put_f16(&mut out, r.random_range(0.2f32..1.0) * scale / 16.0);
                bytes(&mut out, 20, r);
            }
            DType::Q8_0 => {
                put_f16(&mut out, r.random_range(0.2f32..1.0) * scale / 127.0);
                bytes(&mut out, 32, r);
            }
            DType::Q4K | DType::Q5K => {
                let levels = if dtype == DType::Q4K { 15.0 } else { 31.0 };
                put_f16(&mut out, r.random_range(0.2f32..1.0) * scale / (levels * 32.0));
                put_f16(&mut out, r.random_range(0.2f32..1.0) * scale / 32.0);
                bytes(&mut out, 12, r);
                bytes(&mut out, if dtype == DType::Q4K { 128 } else { 160 }, r);
            }
            DType::Q6K => {
                bytes(&mut out, 192, r);
                for _ in 0..16 {
                    out.push(r.random_range(-40i8..40) as u8);
                }
                put_f16(&mut out, r.random_range(0.2f32..1.0) * scale / (32.0 * 40.0));
            }
        }
    }
    out
}

/// Random f32 values in [-1, 1).
pub fn random_f32(n: usize, r: &mut StdRng) -> Vec<f32> {
    (0..n).map(|_| r.random_range(-1.0f32..1.0)).collect()
}
