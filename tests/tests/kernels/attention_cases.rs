//! Causal GQA attention: a table of (heads, KV heads, head width, block, slots, window) against
//! the CPU reference in every shape and cache store; and bit-identity across chunkings.

use super::*;

#[test]
fn attention_matches_cpu_for_decode_causal_and_slotted_blocks_in_every_shape() {
    // (heads, kv heads, head dim, per-token (region, position), slotted, sliding window)
    let cases: [(usize, usize, usize, Vec<(usize, usize)>, bool, usize); 15] = [
        (4, 2, 16, vec![(0, 0)], false, 0),
        // A head wider than a subgroup's vec4s and not a multiple of them.
        (2, 1, 40, (60..62).map(|p| (0, p)).collect(), false, 0),
        (6, 3, 8, (5..9).map(|p| (0, p)).collect(), false, 0),
        (4, 1, 12, (70..73).map(|p| (0, p)).collect(), false, 0),
        // Four sequences' tokens: regions at 0, 40, 13, 61, a fresh one and a long one.
        (6, 2, 8, vec![(0, 5), (40, 0), (13, 30), (61, 34), (40, 1)], true, 0),
        // Prompt chunks (wide blocks, attention_tiled.wgsl on CPU adapters): query heads per
        // KV head 7, 3 and 1, contexts that are no multiple of anything, a chunk from an empty
        // cache and one ending one position before the cache does.
        (7, 1, 20, (0..14).map(|p| (0, p)).collect(), false, 0),
        (3, 1, 16, (60..95).map(|p| (0, p)).collect(), false, 0),
        (4, 4, 8, (30..50).map(|p| (0, p)).collect(), false, 0),
        // A wide slotted block: runs of tokens of four sequences, one of them split in two.
        (6, 2, 12, vec![(0, 5), (0, 6), (0, 7), (40, 0), (40, 1), (13, 30), (13, 31), (55, 34), (55, 35), (0, 8)], true, 0),
        // Sliding windows: tokens before and past the window, a window of one (only itself), a
        // wide chunk and a slotted block whose regions do not start at row 0.
        (6, 3, 8, (3..9).map(|p| (0, p)).collect(), false, 5),
        (2, 1, 40, vec![(0, 61)], false, 1),
        (4, 2, 16, (20..34).map(|p| (0, p)).collect(), false, 7),
        (6, 2, 8, vec![(0, 5), (40, 0), (13, 30), (61, 34), (13, 31)], true, 4),
        // Gemma 3 270M's heads (4 of 256 on one KV head), past 330 keys, as a chunk and a decode.
        (4, 1, 256, (320..352).map(|p| (0, p)).collect(), false, 0),
        (4, 1, 256, vec![(0, 340)], false, 0),
    ];
    let runs = shapes().into_iter().flat_map(|c| cases.clone().map(|s| (c.clone(), s)));
    let mut f = Failures::new();
    for ((ctx, (nh, nkv, hd, slots, slotted, window)), (texture, kv_type)) in runs.flat_map(|r| cache_stores(&r.0).into_iter().map(move |t| (r.clone(), t))) {
        f.case(format!("{:?} nh={nh} nkv={nkv} hd={hd} slots={slots:?} window {window} texture {texture} kv {kv_type:?}", ctx.shape_family()), |f| {
        let ctx_len = slots.iter().map(|s| s.0 + s.1 + 1).max().unwrap().max(96);
        let m = slots.len();
        let mut r = rng((nh * 100 + slots[0].1 + m) as u64);
        let q = random_f32(m * nh * hd, &mut r);
        let kc = random_f32(nkv * ctx_len * hd, &mut r);
        let vc = random_f32(nkv * ctx_len * hd, &mut r);
        let qb = GpuBuffer::from_f32(&ctx, "q", &q);
        let kb = CacheStore::from_f32(&ctx, "kc", &kc, kv_type, texture).unwrap();
        let vb = CacheStore::from_f32(&ctx, "vc", &vc, kv_type, texture).unwrap();
        // The reference reads what the cache holds.
        let (kc, vc) = (as_cached(&kc, kv_type), as_cached(&vc, kv_type));
        let scores = GpuBuffer::zeros(&ctx, "scores", m * nh * ctx_len);
        let out = poisoned(&ctx, m * nh * hd);
        let (st, sl) = step_for(&ctx, &slots, slotted);
        let d = attention::prepare(
            &ctx,
            attention::AttentionArgs { q: &qb.buffer, k_cache: &kb, v_cache: &vb, scores: &scores.buffer, out: &out.buffer, n_head: nh, n_kv: nkv, head_dim: hd, ctx_len, max_tokens: m, window },
            &st,
            &sl,
        )
        .unwrap();
        run(&ctx, &[d], m, 1);
        let got = read(&ctx, &out);
        let scale = 1.0 / (hd as f32).sqrt();
        for (t, &(region, pos)) in slots.iter().enumerate() {
            for h in 0..nh {
                let kvh = h / (nh / nkv);
                let qv = &q[(t * nh + h) * hd..(t * nh + h + 1) * hd];
                let row = |j: usize| (kvh * ctx_len + region + j) * hd;
                let first = if window > 0 { (pos + 1).saturating_sub(window) } else { 0 };
                let s: Vec<f32> = (first..=pos).map(|j| qv.iter().zip(&kc[row(j)..]).map(|(a, b)| a * b).sum::<f32>() * scale).collect();
                let mx = s.iter().cloned().fold(f32::MIN, f32::max);
                let e: Vec<f32> = s.iter().map(|v| (v - mx).exp()).collect();
                let sum: f32 = e.iter().sum();
                let want: Vec<f32> = (0..hd).map(|d| (first..=pos).map(|j| e[j - first] * vc[row(j) + d]).sum::<f32>() / sum).collect();
                let g = &got[(t * nh + h) * hd..(t * nh + h + 1) * hd];
                let e = rel_err(g, &want);
                f.check(e < 1e-5, || format!("{:?} nh={nh} hd={hd} slots={slots:?} window {window} t={t} h={h} texture {texture} kv {kv_type:?}: rel err {e} first bad {:?}", ctx.shape_family(), g.iter().zip(&want).position(|(a, b)| !((a - b).abs() < 1e-4)).map(|i| (i, g[i], want[i]))));
            }
        }
        });
    }
    f.finish();
}

/// A token's attention output does not depend on the block it comes in: the same positions as
/// one block of 21 (a prompt chunk), as blocks of 12 and 9, and one at a time (decode passes)
/// agree bit for bit; with and without a sliding window, and as a slotted block of two
/// sequences' tokens (a lock step's wide block) against each token's slotted decode.
#[test]
fn wide_block_attention_does_not_depend_on_the_chunking() {
    let ctx_len = 128;
    // Per block token (region, position): one sequence at 23..44; or two, whose runs meet
    // inside a workgroup's tile (tokens 0..10 at 23.. in region 0, 10..21 at 13.. in region 64).
    let one: Vec<(usize, usize)> = (23..44).map(|p| (0, p)).collect();
    let two: Vec<(usize, usize)> = (0..21).map(|i| if i < 10 { (0, 23 + i) } else { (64, 3 + i) }).collect();
    let mut f = Failures::new();
    // Heads of 12 (wide blocks take the tiled kernels on CPU adapters) and of 104 (26 vec4s,
    // past MAX_TILED_HEAD_DIM: the one-row kernels, which hold the query in slices of 16).
    let heads = [(6, 2, 12), (4, 2, 104)];
    for (ctx, (texture, kv_type)) in shapes().into_iter().flat_map(|c| cache_stores(&c).into_iter().map(move |t| (c.clone(), t))) {
        for ((slots, slotted, window), (nh, nkv, hd)) in [(&one, false, 0), (&one, false, 5), (&two, true, 0), (&two, true, 7)].into_iter().flat_map(|c| heads.map(|h| (c, h))) {
        f.case(format!("{:?} texture {texture} kv {kv_type:?} slotted {slotted} window {window} heads {nh}/{nkv} of {hd}", ctx.shape_family()), |f| {
            let mut r = rng(77);
            let q = random_f32(slots.len() * nh * hd, &mut r);
            let kc = random_f32(nkv * ctx_len * hd, &mut r);
            let vc = random_f32(nkv * ctx_len * hd, &mut r);
            let kb = CacheStore::from_f32(&ctx, "kc", &kc, kv_type, texture).unwrap();
            let vb = CacheStore::from_f32(&ctx, "vc", &vc, kv_type, texture).unwrap();
            let outputs = |parts: &[std::ops::Range<usize>]| -> Vec<f32> {
                let mut all = Vec::new();
                for part in parts {
                    let m = part.len();
                    let qb = GpuBuffer::from_f32(&ctx, "q", &q[part.start * nh * hd..part.end * nh * hd]);
                    let scores = GpuBuffer::zeros(&ctx, "scores", m * nh * ctx_len);
                    let out = poisoned(&ctx, m * nh * hd);
                    let (st, sl) = step_for(&ctx, &slots[part.clone()], slotted);
                    let args = attention::AttentionArgs { q: &qb.buffer, k_cache: &kb, v_cache: &vb, scores: &scores.buffer, out: &out.buffer, n_head: nh, n_kv: nkv, head_dim: hd, ctx_len, max_tokens: m, window };
                    let d = attention::prepare(&ctx, args, &st, &sl).unwrap();
                    run(&ctx, &[d], m, 1);
                    all.extend(read(&ctx, &out));
                }
                all
            };
            let whole = outputs(&[0..21]);
            let singles: Vec<std::ops::Range<usize>> = (0..21).map(|i| i..i + 1).collect();
            for (name, parts) in [("blocks of 12 and 9", vec![0..12, 12..21]), ("one token at a time", singles), ("blocks of 5, 8 and 8", vec![0..5, 5..13, 13..21])] {
                let other = outputs(&parts);
                let differ = whole.iter().zip(&other).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
                f.check(differ == 0, || format!("{} of {} values differ between one block of 21 and {name}", differ, whole.len()));
            }
        });
        }
    }
    f.finish();
}
