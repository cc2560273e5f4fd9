//! Teacher-forces token ids (a JSON array file) through the plain CPU reference forward pass
//! and prints each position's top-1 next token as JSON, like `cospec score`, so the engine's
//! agreement with another engine can be separated from that engine's own rounding. With
//! `--llamacpp` the reference rounds as llama.cpp's CPU backend does (8-bit activations in
//! quantized products, f16 attention; tests/src/llamacpp_rounding.rs).
//! Usage: cargo run --release -p cospec-tests --example reference_top1 -- MODEL.gguf ids.json [--llamacpp] [--logits-out=PATH]

use cospec_tests::reference::{Arith, RefModel};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arith = if args.iter().any(|a| a == "--llamacpp") { Arith::LlamaCpp } else { Arith::F32 };
    let paths: Vec<&String> = args.iter().skip(1).filter(|a| !a.starts_with("--")).collect();
    if paths.len() != 2 {
        eprintln!("usage: reference_top1 MODEL.gguf ids.json [--llamacpp]");
        std::process::exit(2);
    }
    let file = cospec::platform::open_model(std::path::Path::new(paths[0])).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    let ids: Vec<u32> = serde_json::from_str(&std::fs::read_to_string(paths[1]).expect("readable ids file")).expect("a JSON array of ids");
    let logits = RefModel::new(&file).forward_with(&ids, arith);
    // `--logits-out=PATH`: every position's logits as little-endian f32, for closer comparison.
    if let Some(path) = args.iter().find_map(|a| a.strip_prefix("--logits-out=")) {
        let bytes: Vec<u8> = logits.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(path, bytes).expect("writable logits file");
    }
    let top1: Vec<usize> = logits.iter().map(|row| row.iter().enumerate().fold(0, |b, (i, v)| if *v > row[b] { i } else { b })).collect();
    println!("{}", serde_json::json!({ "top1": top1 }));
}
