//! Teacher-forces token ids (a JSON array file) through the plain f32 CPU reference forward
//! pass and prints each position's top-1 next token as JSON, like `cospec score`, so the
//! engine's agreement with another engine can be separated from that engine's own rounding.
//! Usage: cargo run --release -p cospec-tests --example reference_top1 -- MODEL.gguf ids.json

use cospec_tests::reference::RefModel;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: reference_top1 MODEL.gguf ids.json");
        std::process::exit(2);
    }
    let file = cospec::platform::open_model(std::path::Path::new(&args[1])).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    let ids: Vec<u32> = serde_json::from_str(&std::fs::read_to_string(&args[2]).expect("readable ids file")).expect("a JSON array of ids");
    let logits = RefModel::new(&file).forward(&ids);
    let top1: Vec<usize> = logits.iter().map(|row| row.iter().enumerate().fold(0, |b, (i, v)| if *v > row[b] { i } else { b })).collect();
    println!("{}", serde_json::json!({ "top1": top1 }));
}
