//! Where a real model's pass goes at a given block size and cache length, kernel by kernel
//! (each kernel's launches timed alone, median of 3), with the whole pass beside it. Unlike
//! `cospec bench`, nothing is prefilled: the kernels run over whatever the cache holds, which
//! costs the same as real rows, so long caches are cheap to measure:
//!   cargo run --release -p cospec-tests --example pass_profile -- MODEL.gguf BLOCK AT...
//! MATMUL=rows|rows-subgroup|cooperative forces a shape, COSPEC_WEIGHTS=buffer|texture a store.
use cospec::gpu::{GpuContext, GpuOptions, ShapeFamily};
use cospec::model::{LoadOptions, Model};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: pass_profile MODEL.gguf BLOCK AT [AT...]";
    let (Some(path), Some(block)) = (args.first(), args.get(1).and_then(|b| b.parse::<usize>().ok())) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let ats: Vec<usize> = args[2..].iter().map(|a| a.parse().unwrap_or_else(|_| panic!("{usage}: AT {a:?} is not a number"))).collect();
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", "/tmp");
    }
    let matmul = std::env::var("MATMUL").ok().map(|n| ShapeFamily::from_name(&n).expect("MATMUL"));
    let ctx = pollster::block_on(GpuContext::new(&GpuOptions { matmul, ..cospec_tests::options_from_env() })).expect("an adapter");
    let file = cospec::platform::open_model(std::path::Path::new(path)).expect("a model file");
    let opts = LoadOptions { ctx_len: ats.iter().max().copied().unwrap_or(0) + block, max_block: block, ..Default::default() };
    let mut model = Model::load(ctx.clone(), &file, &opts, &mut |_, _| {}).expect("the model loads");
    println!("{} ({:?}, weights in {:?})", ctx.adapter, ctx.shape_family(), ctx.weight_store());
    for at in ats {
        let prof = pollster::block_on(model.profile(block, at, 3)).expect("profile");
        let parts: Vec<String> = prof.iter().map(|(l, t)| format!("{l} {:.1}", t * 1e3)).collect();
        let whole = pollster::block_on(model.pass_seconds(block, at, 3)).expect("pass");
        println!("block {block} at cache length {at}: whole pass {:.1} ms; by kernel (ms): {}", whole * 1e3, parts.join(", "));
    }
}
