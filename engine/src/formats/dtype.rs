//! Tensor element types of GGUF/safetensors files and their quantized block layouts.

use super::quant::{QuantType, TYPES};
use super::FormatError;

/// Element types the engine can load; each one's facts live in its module (`DType::quant`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F16,
    BF16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q8_0,
    Q4K,
    Q5K,
    Q6K,
}

impl DType {
    pub const ALL: [DType; 10] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::Q4_0,
        DType::Q4_1,
        DType::Q5_0,
        DType::Q8_0,
        DType::Q4K,
        DType::Q5K,
        DType::Q6K,
    ];

    /// This type's module: ids, block, dequantizers, GPU packing (formats/quant/).
    pub fn quant(self) -> &'static QuantType {
        TYPES[self as usize]
    }

    pub fn from_ggml_id(id: u32) -> Result<DType, FormatError> {
        TYPES.iter().find(|t| t.ggml_id == id).map(|t| t.dtype).ok_or_else(|| FormatError::UnsupportedType(ggml_type_name(id)))
    }

    pub fn ggml_id(self) -> u32 {
        self.quant().ggml_id
    }

    pub fn name(self) -> &'static str {
        self.quant().name
    }

    /// Elements of one block in the file (1 for plain floats).
    pub fn block_elems(self) -> usize {
        self.quant().block_elems
    }

    /// Bytes of one block in the file.
    pub fn block_bytes(self) -> usize {
        self.quant().block_bytes
    }

    /// Bytes taken by `n` elements, or an error when `n` is not a whole number of blocks
    /// or the size overflows.
    pub fn bytes_for(self, n: u64) -> Result<u64, FormatError> {
        let be = self.block_elems() as u64;
        if n % be != 0 {
            return Err(FormatError::Shape(format!(
                "{} elements is not a multiple of the {} block size {be}",
                n,
                self.name()
            )));
        }
        (n / be)
            .checked_mul(self.block_bytes() as u64)
            .ok_or_else(|| FormatError::Shape(format!("{n} elements of {} overflow", self.name())))
    }

    /// Elements of one GPU group: a 32-weight block, a 256-weight K-quant super-block, or 32
    /// plain floats. Shaders dequantize 32 weights at a time (`dq32`).
    pub fn gpu_group_elems(self) -> usize {
        self.block_elems().max(32)
    }

    /// 16-byte words of one group in the GPU layout's aligned region (quants, or whole K-quant
    /// super-blocks, padded to 16 bytes so shaders read them with vec4 loads).
    pub fn gpu_group_vec4s(self) -> usize {
        self.quant().gpu_group_vec4s
    }

    /// u32 words of one group in the GPU layout's scale region (after all groups' quants).
    pub fn gpu_scale_words(self) -> usize {
        self.quant().gpu_scale_words
    }

    /// u32 words per row of `cols` elements in the GPU layout.
    pub fn gpu_row_words(self, cols: usize) -> usize {
        cols / self.gpu_group_elems() * (self.gpu_group_vec4s() * 4 + self.gpu_scale_words())
    }

    pub fn is_quantized(self) -> bool {
        self.block_elems() > 1
    }
}

fn ggml_type_name(id: u32) -> String {
    let known = [
        (7, "Q5_1"),
        (9, "Q8_1"),
        (10, "Q2_K"),
        (11, "Q3_K"),
        (15, "Q8_K"),
        (16, "IQ2_XXS"),
        (17, "IQ2_XS"),
        (18, "IQ3_XXS"),
        (19, "IQ1_S"),
        (20, "IQ4_NL"),
        (21, "IQ3_S"),
        (22, "IQ2_S"),
        (23, "IQ4_XS"),
        (24, "I8"),
        (25, "I16"),
        (26, "I32"),
        (27, "I64"),
        (28, "F64"),
        (29, "IQ1_M"),
    ];
    match known.iter().find(|(k, _)| *k == id) {
        Some((_, name)) => format!("{name} (ggml type {id})"),
        None => format!("unknown ggml type {id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::DType;

    #[test]
    fn ggml_ids_round_trip_and_unknown_ones_are_named() {
        for d in DType::ALL {
            assert_eq!(DType::from_ggml_id(d.ggml_id()).unwrap(), d);
        }
        let ids: std::collections::HashSet<u32> = DType::ALL.iter().map(|d| d.ggml_id()).collect();
        assert_eq!(ids.len(), DType::ALL.len(), "two types share an id");
        assert!(DType::from_ggml_id(10).unwrap_err().to_string().contains("Q2_K"));
    }
}
