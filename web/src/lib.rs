//! Browser front end of the cospec engine; the wasm-bindgen API arrives with the in-browser issue.

pub use cospec::VERSION;
