//! Each type's WGSL dequantizer (through the embedding kernel) against its CPU dequantizer.

use super::*;

#[test]
fn gpu_dequantization_matches_cpu_for_every_type() {
    // The embedding kernel dequantizes whole rows: compare with the CPU dequantizer, with the
    // table in each weight store.
    let mut f = Failures::new();
    for (ctx, (i, dt)) in [WeightStore::Buffer, WeightStore::Texture]
        .into_iter()
        .flat_map(|store| DType::ALL.into_iter().enumerate().map(move |d| (gpu_with_store(ShapeFamily::Cooperative, store), d)))
    {
        f.case(format!("{dt:?} {:?}", ctx.weight_store()), |f| {
        let cols = cols_for(dt)[0];
        let rows = 29;
        let mut r = rng(300 + i as u64);
        let wb = random_tensor(dt, rows * cols, 1.0, &mut r);
        let wf = dequantize(dt, &wb, rows * cols).unwrap();
        let row_bytes = (dt.gpu_row_words(cols) * 4) as u64;
        let w = GpuWeight::upload_split(&ctx, "e", dt, rows, cols, &wb, row_bytes * 8).unwrap();
        let toks: Vec<u32> = vec![0, 28, 7, 13, 8, 16, 3];
        let tb = GpuBuffer::from_u32(&ctx, "tokens", &toks);
        let xb = poisoned(&ctx, toks.len() * cols);
        let st = step(&ctx, toks.len(), 0, 1);
        // Every other type with gemma's scaling of the rows.
        let scale = if i % 2 == 1 { 25.298_221 } else { 1.0 };
        run(&ctx, &embedding::prepare(&ctx, &w, &tb.buffer, &xb.buffer, scale, toks.len(), &st).unwrap(), toks.len(), 1);
        let got = read(&ctx, &xb);
        for (t, &tok) in toks.iter().enumerate() {
            let want: Vec<f32> = wf[tok as usize * cols..(tok as usize + 1) * cols].iter().map(|v| v * scale).collect();
            let g = &got[t * cols..(t + 1) * cols];
            let e = rel_err(g, &want);
            f.check(e < 1e-6, || format!("{dt:?} in a {:?}: row {tok} differs from the CPU dequantizer (rel err {e})", ctx.weight_store()));
        }
        });
    }
    f.finish();
}
