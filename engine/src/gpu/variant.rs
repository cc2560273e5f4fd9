//! A kernel as the device builds it: one value holding its label, its whole WGSL source and its
//! bindings. A launcher makes the value with its op's variant function and hands it to
//! `GpuContext::build`, which caches pipelines by source and bindings; each op's `variants`
//! lists, through the same functions, every value its launcher can make on a device profile,
//! and the tests validate exactly those with naga and check that a run builds nothing else.

use crate::gpu::BindKind;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShaderVariant {
    /// Names the pipeline in labels and errors; says nothing the source does not.
    pub label: String,
    pub source: String,
    /// Binding i of group 0.
    pub kinds: Vec<BindKind>,
}

impl ShaderVariant {
    pub fn new(label: impl Into<String>, source: impl Into<String>, kinds: &[BindKind]) -> ShaderVariant {
        ShaderVariant { label: label.into(), source: source.into(), kinds: kinds.to_vec() }
    }
}

/// The model shapes a set of kernels is enumerated for: what varies with the model rather than
/// the device (head widths and grouping, an embedding scale baked into its kernel).
#[derive(Clone, Debug)]
pub struct ModelShapes {
    pub head_dims: Vec<usize>,
    /// Query heads per KV head.
    pub groups: Vec<usize>,
    /// Embedding scales (1 where the model has none).
    pub embedding_scales: Vec<f32>,
}

impl ModelShapes {
    /// The shapes of one model.
    pub fn of(c: &crate::model::ModelConfig) -> ModelShapes {
        ModelShapes { head_dims: vec![c.head_dim], groups: vec![c.n_head / c.n_kv.max(1)], embedding_scales: vec![c.embed_scale] }
    }
}
