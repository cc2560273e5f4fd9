//! Decoding: autoregressive generation with streaming text and timing statistics.

pub mod generate;

pub use crate::gpu::kernels::sample::SamplingParams;
pub use generate::{generate, GenerateOptions, GenerationOutput, GenerationStats};
