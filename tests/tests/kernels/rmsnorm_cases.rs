//! RMSNorm in every shape family, with and without the residual add.

use super::*;

#[test]
fn rmsnorm_matches_cpu_in_every_shape() {
    let mut f = Failures::new();
    for (ctx, (n, m)) in shapes().into_iter().flat_map(|c| [(13usize, 1usize), (576, 3), (1000, 2)].map(|s| (c.clone(), s))) {
        f.case(format!("{:?} n={n} m={m}", ctx.shape_family()), |f| {
        let mut r = rng(n as u64);
        let x = random_f32(n * m, &mut r);
        let g = random_f32(n, &mut r);
        let xb = GpuBuffer::from_f32(&ctx, "x", &x);
        let gb = GpuBuffer::from_f32(&ctx, "g", &g);
        let yb = poisoned(&ctx, n * m);
        let st = step(&ctx, m, 0, 1);
        let d = rmsnorm::prepare(&ctx, &xb.buffer, &gb, &yb.buffer, n, 1e-5, false, m, &st).unwrap();
        run(&ctx, &[d], m, 1);
        let got = read(&ctx, &yb);
        // And added onto a residual (gemma's post-norms).
        let resid = random_f32(n * m, &mut r);
        let rb = GpuBuffer::from_f32(&ctx, "residual", &resid);
        run(&ctx, &[rmsnorm::prepare_add(&ctx, &xb.buffer, &gb, &rb.buffer, n, 1e-5, m, &st).unwrap()], m, 1);
        let added = read(&ctx, &rb);
        for t in 0..m {
            let row = &x[t * n..(t + 1) * n];
            let inv = 1.0 / (row.iter().map(|v| v * v).sum::<f32>() / n as f32 + 1e-5).sqrt();
            let want: Vec<f32> = row.iter().zip(&g).map(|(v, g)| v * inv * g).collect();
            let e = rel_err(&got[t * n..(t + 1) * n], &want);
            f.check(e < 1e-5, || format!("{:?} n={n} token {t}: rel err {e}", ctx.shape_family()));
            let want_added: Vec<f32> = want.iter().zip(&resid[t * n..(t + 1) * n]).map(|(a, b)| a + b).collect();
            let e = rel_err(&added[t * n..(t + 1) * n], &want_added);
            f.check(e < 1e-5, || format!("{:?} n={n} token {t}: added onto the residual, rel err {e}", ctx.shape_family()));
        }
        });
    }
    f.finish();
}
