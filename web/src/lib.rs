//! The cospec engine in the browser. `chat_protocol` (plain Rust, tested natively) turns what
//! the page sends into engine options and what the engine does into what the page shows;
//! `browser` (wasm32 only) is the wasm-bindgen API a Web Worker drives; `blob_source` reads
//! weights from browser `Blob`s one tensor at a time.

pub mod chat_protocol;

#[cfg(target_arch = "wasm32")]
mod blob_source;
#[cfg(target_arch = "wasm32")]
mod browser;

pub use cospec::VERSION;
