use cospec::formats::DType;
use cospec::gpu::dispatch::{submit, Dispatch};
use cospec::gpu::kernels::{add, matmul};
use cospec::gpu::{GpuBuffer, GpuContext, GpuWeight};
use std::time::Instant;

fn main() {
    let ctx = pollster::block_on(GpuContext::new(&Default::default())).unwrap();
    let g = ctx.as_ref();
    let step = GpuBuffer::uniform(g, "step", &[1, 0, 1, 0]);
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(1536);
    let cols: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(576);
    let m: u32 = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(1);
    step.write_u32(g, 0, &[m, 0, m, 0]);
    let dt = match std::env::var("DT").as_deref() { Ok("f32") => DType::F32, Ok("q8") => DType::Q8_0, Ok("q4k") => DType::Q4K, _ => DType::Q4_1 };
    let bytes: Vec<u8> = (0..dt.bytes_for((rows * cols) as u64).unwrap()).map(|i| (i * 31 % 251) as u8 & 0x3b).collect();
    let w = GpuWeight::upload(g, "w", dt, rows, cols, &bytes).unwrap();
    let x = GpuBuffer::zeros(g, "x", cols * 32);
    let y = GpuBuffer::zeros(g, "y", rows * 32);
    if std::env::var("COOP").is_ok() { ctx.set_matmul_variant(cospec::gpu::MatmulVariant::Cooperative); }
    let d = matmul::prepare(g, matmul::MatmulArgs { weight: &w, x: &x.buffer, y: &y.buffer, y_stride: rows, accumulate: false, tokens: matmul::Tokens::All, max_tokens: 32 }, &step).unwrap();
    let a = add::prepare(g, &y.buffer, &x.buffer, 1, &step).unwrap();
    for (name, list) in [("matmul", d.iter().collect::<Vec<&Dispatch>>()), ("tiny add", vec![&a])] {
        let n = 100;
        let many: Vec<&Dispatch> = (0..n).flat_map(|_| list.iter().copied()).collect();
        submit(g, &many, m, m).unwrap();
        pollster::block_on(ctx.read_f32(&y.buffer, 0, 1)).unwrap();
        let t = Instant::now();
        submit(g, &many, m, m).unwrap();
        pollster::block_on(ctx.read_f32(&y.buffer, 0, 1)).unwrap();
        let s = t.elapsed().as_secs_f64() / n as f64;
        let bytes = w.gpu_bytes() as f64;
        println!("{name}: {:.1} us per launch, {:.2} GB/s weights", s * 1e6, bytes / s / 1e9);
    }
}
