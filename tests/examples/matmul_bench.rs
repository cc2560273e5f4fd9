//! Time of one matrix product per weight type and block size on this adapter's product shape,
//! in ns per weight per token, to see what a kernel change did to each type apart:
//!   cargo run --release -p cospec-tests --example matmul_bench -- [ROWS COLS [TYPE...]] [--matmul=SHAPE]
//!       [--blocks=1,2,4,5,8] [--wide=off --wide=TM,MIN,RPI ...]
//! Each --wide (the cooperative shape's wide form, as COSPEC_COOP_WIDE spells it) is measured
//! in turn in one process and ends with a line `wide SPEC: M ms` (the plain products' time at
//! the largest block, summed over the types), which scripts/gpu-study.sh compares.
//! Random weights and inputs; each input stage (plain, fused RMSNorm, fused SiLU gate; the
//! fused ones run on row shapes only); the fastest of 15 launches after a warm-up (the least disturbed by other work).
use cospec::formats::DType;
use cospec::gpu::dispatch::submit;
use cospec::ops::matmul::{self, Input, MatmulArgs, Tokens};
use cospec::gpu::{GpuBuffer, GpuContext, GpuOptions, Step};
use cospec_tests::blocks::{random_f32, random_tensor, rng};
use cospec::gpu::ShapeFamily;
use cospec_tests::{gpu, gpu_with};
use std::time::Instant;

fn main() {
    let all: Vec<String> = std::env::args().skip(1).collect();
    // `--matmul=rows|rows-subgroup|cooperative` forces a product shape (default: the adapter's).
    let shape = all.iter().find_map(|a| a.strip_prefix("--matmul=")).map(|n| ShapeFamily::from_name(n).expect("a product shape"));
    let args: Vec<String> = all.iter().filter(|a| !a.starts_with("--")).cloned().collect();
    let blocks: Vec<usize> = match all.iter().find_map(|a| a.strip_prefix("--blocks=")) {
        Some(list) => list.split(',').map(|b| b.parse().expect("--blocks=N,N,...")).collect(),
        None => vec![1, 2, 4, 5, 8],
    };
    let wides: Vec<&str> = all.iter().filter_map(|a| a.strip_prefix("--wide=")).collect();
    let rows: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1536);
    let cols: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1536);
    let mut types: Vec<DType> = args.iter().skip(2).filter_map(|a| DType::ALL.into_iter().find(|d| d.name().eq_ignore_ascii_case(a))).collect();
    if types.is_empty() {
        types = vec![DType::Q4_1, DType::Q5_0, DType::Q8_0, DType::Q4K, DType::Q6K];
    }
    let ctx = match shape {
        Some(v) => gpu_with(v),
        None => gpu(),
    };
    println!("adapter: {} ({:?} shape); {rows} x {cols}", ctx.adapter.name, ctx.shape_family());
    if wides.is_empty() {
        measure(&ctx, rows, cols, &types, &blocks);
    }
    for spec in wides {
        // A device's wide tile is fixed when it opens: one device per form.
        let wide_tile = matmul::parse_wide_tile(spec).expect("--wide=off or TM,MIN,RPI");
        let ctx = cospec_tests::open_device_with(GpuOptions { matmul: Some(ctx.shape_family()), wide_tile, ..cospec_tests::options_from_env() });
        println!("wide tile {spec}");
        let ms = measure(&ctx, rows, cols, &types, &blocks);
        println!("wide {spec}: {ms:.4} ms");
    }
}

/// Prints each type's and stage's ns per weight per token for every block; returns the plain
/// products' time at the largest block, in ms, summed over the types.
fn measure(ctx: &GpuContext, rows: usize, cols: usize, types: &[DType], blocks: &[usize]) -> f64 {
    let mut plain_ms = 0.0;
    println!("{:>14} {}", "type", blocks.iter().map(|m| format!("{:>14}", format!("m={m} ns/w/tok"))).collect::<String>());
    let gain = GpuBuffer::from_f32(ctx, "gain", &vec![1.0; cols]);
    // Fused input stages exist on the row shapes only.
    let stages: &[&str] = if ctx.cpu_shapes() { &["plain", "rmsnorm", "silu"] } else { &["plain"] };
    for (dt, stage) in types.iter().flat_map(|&d| stages.iter().map(move |&s| (d, s))) {
        let mut r = rng(1);
        let wb = random_tensor(dt, rows * cols, 1.0, &mut r);
        let w = cospec::gpu::GpuWeight::upload(ctx, "w", dt, rows, cols, &wb).unwrap();
        let max_m = *blocks.iter().max().expect("a block size");
        let x = GpuBuffer::from_f32(ctx, "x", &random_f32(max_m * 2 * cols, &mut r));
        let input = match stage {
            "rmsnorm" => Input::RmsNorm { gain: &gain, eps: 1e-5 },
            "silu" => Input::SiluGate,
            _ => Input::Plain,
        };
        let y = GpuBuffer::zeros(ctx, "y", max_m * rows);
        let mut line = format!("{:>14}", format!("{} {stage}", dt.name()));
        for &m in blocks {
            let step = GpuBuffer::uniform(ctx, "step", &Step::one_sequence(m, 0, m).words());
            let a = MatmulArgs { weight: &w, x: &x.buffer, y: &y.buffer, y_stride: rows, y_col: 0, accumulate: false, tokens: Tokens::All, max_tokens: max_m, input };
            let ds = matmul::prepare(ctx, a, &step).unwrap();
            let list: Vec<_> = ds.iter().collect();
            let run = || {
                submit(ctx, &list, m as u32, m as u32).unwrap();
                ctx.wait_idle();
            };
            run();
            let mut times: Vec<f64> = (0..15)
                .map(|_| {
                    let t = Instant::now();
                    run();
                    t.elapsed().as_secs_f64()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            line += &format!("{:>14.3}", times[0] * 1e9 / (rows * cols * m) as f64);
            if stage == "plain" && m == max_m {
                plain_ms += times[0] * 1e3;
            }
        }
        println!("{line}");
    }
    plain_ms
}
