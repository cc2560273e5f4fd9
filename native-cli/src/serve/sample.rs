//! Sampling one token from a logits row on the CPU, for sequences decoded side by side: each
//! request keeps its own seeded generator, so its draws do not depend on its neighbours.

use cospec::decode::SamplingParams;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Sampler {
        Sampler { params, rng: StdRng::seed_from_u64(params.seed) }
    }

    pub fn is_greedy(&self) -> bool {
        self.params.is_greedy()
    }

    pub fn pick(&mut self, logits: &[f32]) -> u32 {
        if self.is_greedy() {
            return argmax(logits);
        }
        let inv_t = 1.0 / self.params.temperature;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let weights: Vec<f32> = logits.iter().map(|&l| ((l - max) * inv_t).exp()).collect();
        let (top_k, top_p) = (self.params.top_k as usize, self.params.top_p);
        if (top_k == 0 || top_k >= logits.len()) && top_p >= 1.0 {
            return draw(&mut self.rng, weights.iter().copied().enumerate());
        }
        let mut order: Vec<usize> = (0..logits.len()).collect();
        if top_k > 0 && top_k < order.len() {
            order.select_nth_unstable_by(top_k - 1, |&a, &b| weights[b].total_cmp(&weights[a]));
            order.truncate(top_k);
        }
        order.sort_unstable_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
        let total: f32 = order.iter().map(|&i| weights[i]).sum();
        let mut kept = 0;
        let mut mass = 0.0;
        for &i in &order {
            kept += 1;
            mass += weights[i] / total;
            if mass >= top_p {
                break;
            }
        }
        draw(&mut self.rng, order[..kept].iter().map(|&i| (i, weights[i])))
    }
}

/// The first index of the largest logit (what the GPU's argmax picks on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

fn draw(rng: &mut StdRng, weighted: impl Iterator<Item = (usize, f32)> + Clone) -> u32 {
    let total: f32 = weighted.clone().map(|(_, w)| w).sum();
    let mut u = rng.random::<f32>() * total;
    let mut last = 0;
    for (i, w) in weighted {
        last = i;
        if u < w {
            return i as u32;
        }
        u -= w;
    }
    last as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32, top_k: u32, top_p: f32, seed: u64) -> SamplingParams {
        SamplingParams { temperature, top_k, top_p, seed }
    }

    #[test]
    fn greedy_is_the_first_largest() {
        let mut s = Sampler::new(params(0.0, 0, 1.0, 1));
        assert_eq!(s.pick(&[0.5, 2.0, 2.0, -1.0]), 1);
    }

    #[test]
    fn top_k_and_top_p_never_pick_outside_their_set() {
        let mut logits: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 1000) as f32 / 100.0).collect();
        // One clear favourite: at temperature 0.5 it holds about 90% of the mass.
        logits[321] += 3.0;
        let mut ranked: Vec<usize> = (0..1000).collect();
        ranked.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        let mut k = Sampler::new(params(1.0, 3, 1.0, 7));
        let mut p = Sampler::new(params(0.5, 0, 0.5, 7));
        for _ in 0..500 {
            assert!(ranked[..3].contains(&(k.pick(&logits) as usize)));
            assert_eq!(p.pick(&logits) as usize, ranked[0]);
        }
    }

    #[test]
    fn draws_follow_the_softmax_and_repeat_with_the_seed() {
        let logits = [0.0f32, (2.0f32).ln(), (3.0f32).ln()];
        let mut s = Sampler::new(params(1.0, 0, 1.0, 42));
        let mut counts = [0usize; 3];
        let n = 60_000;
        let draws: Vec<u32> = (0..n).map(|_| s.pick(&logits)).collect();
        for &d in &draws {
            counts[d as usize] += 1;
        }
        for (i, want) in [1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0].iter().enumerate() {
            let got = counts[i] as f64 / n as f64;
            assert!((got - want).abs() < 0.01, "token {i}: {got} vs {want}");
        }
        let mut again = Sampler::new(params(1.0, 0, 1.0, 42));
        assert!(draws.iter().take(100).all(|&d| d == again.pick(&logits)));
    }
}
