//! llama.cpp's CPU rounding, re-done in plain Rust for the reference forward pass
//! (`Arith::LlamaCpp`): a quantized weight's product first quantizes the activations to 8 bits
//! per block (ggml's q8_0 / q8_1 for 32-weight types, q8_K for K-quants), F16 weights meet
//! f16-rounded activations, and attention runs on an f16 KV cache with Q and the softmax
//! weights rounded to f16. With it the reference tells llama.cpp's rounding apart from a
//! real difference when the two engines' top-1 tokens disagree (docs/perf.md).

use cospec::formats::DType;
use half::f16;

pub fn f16_round(v: f32) -> f32 {
    f16::from_f32(v).to_f32()
}

/// ggml's quantize_row_q8_0 / q8_1 (AVX2 path): per 32 values d = amax / 127 kept as f16,
/// q = round-half-even(x * 127 / amax). Returns the dequantized values d16 * q and, per block,
/// q8_1's s = f16(d * sum q) (which llama.cpp uses for the weights' minimums).
pub fn q8_32(x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut out = Vec::with_capacity(x.len());
    let mut sums = Vec::with_capacity(x.len() / 32);
    for b in x.chunks(32) {
        let amax = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        let d16 = f16_round(d);
        let mut qsum = 0i32;
        for v in b {
            let q = (v * id).round_ties_even();
            qsum += q as i32;
            out.push(d16 * q);
        }
        sums.push(f16_round(d * qsum as f32));
    }
    (out, sums)
}

/// ggml's quantize_row_q8_K: per 256 values the signed value of largest magnitude `max`,
/// iscale = -127 / max, q = min(127, round-half-even(iscale * x)), d = 1 / iscale (f32).
pub fn q8_256(x: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for b in x.chunks(256) {
        let (mut amax, mut max) = (0f32, 0f32);
        for &v in b {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax == 0.0 {
            out.extend(std::iter::repeat_n(0.0, b.len()));
            continue;
        }
        let iscale = -127.0 / max;
        let d = 1.0 / iscale;
        out.extend(b.iter().map(|v| d * (iscale * v).round_ties_even().min(127.0)));
    }
    out
}

/// A weight matrix as the reference holds it: dequantized, with its type and, for types with
/// a per-block minimum (Q4_1), those minimums, which llama.cpp multiplies by q8_1's `s`.
pub struct Matrix {
    pub w: Vec<f32>,
    pub dtype: DType,
    pub mins: Option<Vec<f32>>,
}

impl Matrix {
    pub fn new(w: Vec<f32>, dtype: DType, raw: &[u8]) -> Matrix {
        // Q4_1 blocks: f16 d, f16 m, 16 bytes of nibbles.
        let mins = (dtype == DType::Q4_1).then(|| raw.chunks(20).map(|b| f16::from_le_bytes([b[2], b[3]]).to_f32()).collect());
        Matrix { w, dtype, mins }
    }

    /// W x the way llama.cpp's CPU backend rounds it.
    pub fn matvec(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let cols = x.len();
        let (xq, sums) = match self.dtype {
            DType::F32 => (x.to_vec(), Vec::new()),
            DType::F16 | DType::BF16 => (x.iter().map(|&v| f16_round(v)).collect(), Vec::new()),
            DType::Q4K | DType::Q5K | DType::Q6K => (q8_256(x), Vec::new()),
            _ => q8_32(x),
        };
        (0..rows)
            .map(|r| {
                let row = &self.w[r * cols..(r + 1) * cols];
                match &self.mins {
                    // sum (d q + m) x^ = sum (w - m) x^ + m * s, s from the q8_1 block.
                    Some(mins) => (0..cols / 32)
                        .map(|b| {
                            let m = mins[r * cols / 32 + b];
                            let part: f32 = (b * 32..b * 32 + 32).map(|j| (row[j] - m) * xq[j]).sum();
                            part + m * sums[b]
                        })
                        .sum(),
                    None => row.iter().zip(&xq).map(|(a, b)| a * b).sum(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_32_rounds_half_to_even_with_an_f16_scale() {
        let mut x = vec![0f32; 32];
        x[0] = 1.0;
        x[1] = -0.5; // -63.5 -> -64 (ties to even)
        x[2] = 0.25; // 31.75 -> 32
        x[3] = 2.5 / 127.0; // 2.5 -> 2 (ties to even), not 3
        let (xq, s) = q8_32(&x);
        let d16 = f16_round(1.0 / 127.0);
        assert_eq!(xq[0], d16 * 127.0);
        assert_eq!(xq[1], d16 * -64.0);
        assert_eq!(xq[2], d16 * 32.0);
        assert_eq!(xq[3], d16 * 2.0);
        assert_eq!(s[0], f16_round((1.0 / 127.0) * (127.0 - 64.0 + 32.0 + 2.0)));
        assert_eq!(q8_32(&[0.0; 32]).0, vec![0.0; 32]);
    }

    #[test]
    fn q8_256_scales_by_the_signed_largest_value_and_caps_at_127() {
        let mut x = vec![0f32; 256];
        x[0] = -2.0;
        x[1] = 1.0; // iscale = 63.5: 63.5 -> 64
        x[2] = 2.0; // -127 * -1 = 127 exactly
        let xq = q8_256(&x);
        let d = 1.0 / (-127.0f32 / -2.0);
        assert_eq!(xq[0], d * -127.0);
        assert_eq!(xq[1], d * 64.0);
        assert_eq!(xq[2], d * 127.0);
    }
}
