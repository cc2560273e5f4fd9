//! Transformer models (llama, qwen2): configuration, weights on the GPU, the layer graph and
//! the KV cache.

pub mod config;
pub mod llm;
pub mod understood;

pub use config::{Arch, ModelConfig};
pub use crate::gpu::kv_cache::KvType;
pub use llm::{LoadOptions, LogitsRows, Model};

use crate::formats::FormatError;
use crate::gpu::GpuError;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error("context full: {have} tokens cached + {adding} new exceed the context of {ctx}")]
    ContextFull { have: usize, adding: usize, ctx: usize },
    #[error("token id {0} is outside the vocabulary of {1}")]
    BadToken(u32, usize),
    #[error("{0}")]
    Invalid(String),
}
