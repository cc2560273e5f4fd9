//! Writes the tiny random models the tests use, as GGUF files, so that another engine can load
//! them (scripts/tiny_llamacpp_reference.py runs llama.cpp on them). Every weight F32 unless
//! `--quantized`, which keeps each spec's quantized types.
//! Usage: cargo run -p cospec-tests --example tiny_models -- DIR [--quantized]

use cospec_tests::tiny::{llamacpp_checked, tiny_gguf};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.iter().find(|a| !a.starts_with("--")).expect("usage: tiny_models DIR [--quantized]");
    let quantized = args.iter().any(|a| a == "--quantized");
    std::fs::create_dir_all(dir).unwrap();
    for (name, spec) in llamacpp_checked(quantized) {
        let path = std::path::Path::new(dir).join(format!("tiny-{name}.gguf"));
        std::fs::write(&path, tiny_gguf(&spec)).unwrap();
        println!("{}", path.display());
    }
}
