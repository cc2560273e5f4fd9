//! Gated activations, the residual add and argmax.

use super::*;

#[test]
fn gated_activations_and_add_match_cpu() {
    let ctx = gpu();
    let (n, m) = (77usize, 3usize);
    let mut r = rng(21);
    // Some gates far out, where tanh's saturation and exp's overflow are reached.
    let mut g = random_f32(n * m, &mut r);
    for x in g.iter_mut().step_by(7) {
        *x *= 40.0;
    }
    let u = random_f32(n * m, &mut r);
    let mut gu = Vec::new();
    for t in 0..m {
        gu.extend_from_slice(&g[t * n..(t + 1) * n]);
        gu.extend_from_slice(&u[t * n..(t + 1) * n]);
    }
    let gub = GpuBuffer::from_f32(&ctx, "gate_up", &gu);
    let st = step(&ctx, m, 0, 1);
    let mut f = Failures::new();
    let gelu = |a: f64| 0.5 * a * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (a + 0.044715 * a * a * a)).tanh());
    for gate in [gated_act::Gate::Silu, gated_act::Gate::GeluTanh] {
        let act = poisoned(&ctx, n * m);
        run(&ctx, &[gated_act::prepare(&ctx, gate, &gub.buffer, &act.buffer, n, &st).unwrap()], m, 1);
        let want: Vec<f32> = g
            .iter()
            .zip(&u)
            .map(|(&a, &b)| match gate {
                gated_act::Gate::Silu => a / (1.0 + (-a).exp()) * b,
                gated_act::Gate::GeluTanh => (gelu(a as f64) * b as f64) as f32,
            })
            .collect();
        let got = read(&ctx, &act);
        let e = rel_err(&got, &want);
        f.check(e < 1e-5 && got.iter().all(|x| x.is_finite()), || format!("{gate:?}: rel err {e}"));
    }
    let ub = GpuBuffer::from_f32(&ctx, "u", &u);
    let yb = GpuBuffer::from_f32(&ctx, "y", &g);
    run(&ctx, &[add::prepare(&ctx, &yb.buffer, &ub.buffer, n, &st).unwrap()], m, 1);
    let want: Vec<f32> = g.iter().zip(&u).map(|(a, b)| a + b).collect();
    let e = rel_err(&read(&ctx, &yb), &want);
    f.check(e < 1e-6, || format!("add: rel err {e}"));
    f.finish();
}

#[test]
fn argmax_picks_the_lowest_index_of_the_maximum() {
    let ctx = gpu();
    let mut f = Failures::new();
    for (vocab, rows) in [(1usize, 1usize), (300, 2), (49157, 3)] {
        let mut r = rng(vocab as u64);
        let mut logits = random_f32(vocab * rows, &mut r);
        if vocab > 10 {
            // A tie: the lower index must win; a NaN must never win.
            logits[vocab + 7] = 5.0;
            logits[vocab + 200] = 5.0;
            logits[3] = f32::NAN;
        }
        let lb = GpuBuffer::from_f32(&ctx, "logits", &logits);
        let out = GpuBuffer::from_u32(&ctx, "out", &vec![u32::MAX; rows + 2]);
        let st = step(&ctx, rows, 0, rows);
        run(&ctx, &[argmax::prepare(&ctx, &lb.buffer, &out.buffer, vocab, 1, &st).unwrap()], rows, rows);
        let got = pollster::block_on(out.read_u32(&ctx)).unwrap();
        f.check(got[0] == u32::MAX, || format!("vocab {vocab}: wrote before the offset"));
        for row in 0..rows {
            let l = &logits[row * vocab..(row + 1) * vocab];
            let mut best = 0usize;
            for (i, v) in l.iter().enumerate() {
                if *v > l[best] || l[best].is_nan() && !v.is_nan() {
                    best = i;
                }
            }
            f.check(got[1 + row] as usize == best, || format!("vocab {vocab} row {row}: {} instead of {best}", got[1 + row]));
        }
    }
    f.finish();
}
