//! cospec: a portable WebGPU engine for LLM inference with collaborative speculative decoding.
//! The same crate runs natively (Vulkan, Metal, DX12, GL through wgpu) and in the browser.

pub mod chat_template;
pub mod decode;
pub mod formats;
pub mod gpu;
pub mod model;
/// One launcher per GPU op (its WGSL in shaders/<op>/).
pub mod ops;
pub mod platform;
pub mod tokenizer;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
