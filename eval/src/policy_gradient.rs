//! Training the arbiter MLP by policy gradient on branch rollouts. At a mismatch both arms are
//! observed (the trajectory rolled out once keeping the draft token, once taking the target's,
//! each graded), so the exact expected policy gradient is available:
//!   J = pi(keep) r_keep + (1 - pi(keep)) r_take,   dJ/dtheta = pi (1 - pi) (r_keep - r_take) df/dtheta
//! with pi = sigmoid(f(features)): REINFORCE over both actions, with the other arm's reward as
//! the baseline. A cost per kept token (keep_cost) is subtracted from r_keep. Adam, L2 decay.

use cospec::decode::arbiter::{Features, Mlp};
use cospec::ops::spec::FEATURES;

/// One mismatch state with both arms' graded outcomes.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    pub features: Vec<f32>,
    pub reward_keep: f32,
    pub reward_take: f32,
}

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub hidden: usize,
    pub epochs: usize,
    pub learning_rate: f32,
    pub weight_decay: f32,
    pub keep_cost: f32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { hidden: 32, epochs: 300, learning_rate: 0.01, weight_decay: 1e-4, keep_cost: 0.0, seed: 1 }
    }
}

/// A small deterministic generator (xorshift64*), so training needs no extra dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u = self.uniform().max(1e-7);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

fn features_of(s: &Sample) -> Features {
    let mut f = [0f32; FEATURES];
    for (d, v) in f.iter_mut().zip(&s.features) {
        *d = *v;
    }
    f
}

/// Mean and standard deviation of each feature (std floored so constant features stay finite).
pub fn normalization(samples: &[Sample]) -> (Vec<f32>, Vec<f32>) {
    let n = samples.len().max(1) as f64;
    let mut mean = vec![0f64; FEATURES];
    for s in samples {
        for (m, v) in mean.iter_mut().zip(&s.features) {
            *m += *v as f64 / n;
        }
    }
    let mut var = vec![0f64; FEATURES];
    for s in samples {
        for (i, v) in s.features.iter().enumerate().take(FEATURES) {
            var[i] += (*v as f64 - mean[i]).powi(2) / n;
        }
    }
    (mean.iter().map(|m| *m as f32).collect(), var.iter().map(|v| (v.sqrt() as f32).max(1e-3)).collect())
}

/// Trains a fresh MLP on the samples (normalization from them).
pub fn train(samples: &[Sample], opts: &TrainOptions) -> Mlp {
    let (mean, std) = normalization(samples);
    let h = opts.hidden;
    let mut rng = Rng::new(opts.seed);
    let mut mlp = Mlp::zeros(h, mean, std);
    let scale1 = (1.0 / FEATURES as f32).sqrt();
    for w in mlp.w1.iter_mut() {
        *w = rng.normal() * scale1;
    }
    let scale2 = (1.0 / h as f32).sqrt();
    for w in mlp.w2.iter_mut() {
        *w = rng.normal() * scale2;
    }
    improve(&mut mlp, samples, opts);
    mlp
}

/// The weight decay that stands for the constant rule: an infinite decay pins every weight to
/// zero and leaves the output bias, the arm that is better on average.
pub const CONSTANT_RULE: f32 = f32::INFINITY;

/// The constant rule as an MLP: zero weights and an output bias that keeps the draft's token
/// everywhere when keeping (less `keep_cost`) scored better on average over `samples` than
/// taking the target's, and takes the target's token everywhere otherwise (ties included).
pub fn constant_rule(samples: &[Sample], opts: &TrainOptions) -> Mlp {
    let (mean, std) = normalization(samples);
    let mut mlp = Mlp::zeros(opts.hidden.max(1), mean, std);
    let advantage: f64 = samples.iter().map(|s| ((s.reward_keep - opts.keep_cost) - s.reward_take) as f64).sum();
    // A logit of +-20 is a probability within 1e-8 of 1 or 0: beyond any threshold in use.
    mlp.b2 = if advantage > 0.0 { 20.0 } else { -20.0 };
    mlp
}

/// `train`, or the constant rule when the decay is `CONSTANT_RULE`.
pub fn fit(samples: &[Sample], opts: &TrainOptions) -> Mlp {
    if opts.weight_decay == CONSTANT_RULE {
        constant_rule(samples, opts)
    } else {
        train(samples, opts)
    }
}

/// Full-batch Adam ascent of the expected reward (continues from `mlp`'s weights).
pub fn improve(mlp: &mut Mlp, samples: &[Sample], opts: &TrainOptions) {
    if samples.is_empty() {
        return;
    }
    let h = mlp.hidden();
    let n_params = h * FEATURES + h + h + 1;
    let (mut m, mut v) = (vec![0f32; n_params], vec![0f32; n_params]);
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let inv_n = 1.0 / samples.len() as f32;
    for step in 1..=opts.epochs {
        let mut g = vec![0f32; n_params];
        for s in samples {
            let f = features_of(s);
            let x: Vec<f32> = (0..FEATURES).map(|i| (f[i] - mlp.mean[i]) / mlp.std[i]).collect();
            let a = mlp.hidden_activations(&f);
            let logit = mlp.b2 + a.iter().zip(&mlp.w2).map(|(a, w)| a * w).sum::<f32>();
            let pi = 1.0 / (1.0 + (-logit).exp());
            let adv = (s.reward_keep - opts.keep_cost) - s.reward_take;
            // dJ/dlogit, averaged over samples (ascent direction).
            let dl = pi * (1.0 - pi) * adv * inv_n;
            for j in 0..h {
                let dz = dl * mlp.w2[j] * (1.0 - a[j] * a[j]);
                for i in 0..FEATURES {
                    g[j * FEATURES + i] += dz * x[i];
                }
                g[h * FEATURES + j] += dz;
                g[h * FEATURES + h + j] += dl * a[j];
            }
            g[n_params - 1] += dl;
        }
        let t = step as i32;
        let lr = opts.learning_rate * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        let mut k = 0;
        let mut update = |p: &mut f32, k: usize, decay: bool| {
            let grad = g[k] - if decay { opts.weight_decay * *p } else { 0.0 };
            m[k] = b1 * m[k] + (1.0 - b1) * grad;
            v[k] = b2 * v[k] + (1.0 - b2) * grad * grad;
            *p += lr * m[k] / (v[k].sqrt() + eps);
        };
        for p in mlp.w1.iter_mut() {
            update(p, k, true);
            k += 1;
        }
        for p in mlp.b1.iter_mut() {
            update(p, k, false);
            k += 1;
        }
        for p in mlp.w2.iter_mut() {
            update(p, k, true);
            k += 1;
        }
        update(&mut mlp.b2, k, false);
    }
}

/// Share of samples with a strict preference where the policy (probability > threshold) picks
/// the better arm: agreement with the oracle branch choice.
pub fn oracle_agreement(mlp: &Mlp, samples: &[Sample], threshold: f32) -> (usize, usize) {
    let mut agree = 0;
    let mut total = 0;
    for s in samples {
        if s.reward_keep == s.reward_take {
            continue;
        }
        total += 1;
        let keep = mlp.keep_probability(&features_of(s)) > threshold;
        if keep == (s.reward_keep > s.reward_take) {
            agree += 1;
        }
    }
    (agree, total)
}

/// One candidate of `select_weight_decay`: its decay and cross-validated agreement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecayScore {
    pub weight_decay: f32,
    pub agree: usize,
    pub total: usize,
}

/// `decay:agree/total`, as logged and kept in an arbiter's metadata.
impl std::fmt::Display for DecayScore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}/{}", self.weight_decay, self.agree, self.total)
    }
}

/// Picks the weight decay by cross-validated agreement, so the rollouts decide how fine a policy
/// they support. The constant rule (`CONSTANT_RULE`, the arm better on average in the training
/// folds) is always a candidate, after the given ones: a finite decay that scores below it on
/// held-out problems has learned noise. Ties go to the larger decay, the simpler policy, so
/// when no finer rule beats the constant, the constant is what is fitted. Returns the chosen
/// candidate and every candidate's score, in the order given, then the constant's.
pub fn select_weight_decay(groups: &[String], samples: &[Sample], folds: usize, opts: &TrainOptions, threshold: f32, candidates: &[f32]) -> (DecayScore, Vec<DecayScore>) {
    let mut candidates = candidates.to_vec();
    if !candidates.contains(&CONSTANT_RULE) {
        candidates.push(CONSTANT_RULE);
    }
    let scores: Vec<DecayScore> = candidates
        .iter()
        .map(|&weight_decay| {
            let (agree, total) = cross_validated_agreement(groups, samples, folds, &TrainOptions { weight_decay, ..opts.clone() }, threshold);
            DecayScore { weight_decay, agree, total }
        })
        .collect();
    // Every candidate is scored on the same held-out rollouts, but compare rates to be safe.
    let rate = |s: &DecayScore| if s.total == 0 { 0.0 } else { s.agree as f64 / s.total as f64 };
    let best = scores
        .iter()
        .copied()
        .reduce(|best, s| if rate(&s) > rate(&best) || (rate(&s) == rate(&best) && s.weight_decay > best.weight_decay) { s } else { best })
        .expect("candidates is not empty");
    (best, scores)
}

/// Held-out agreement without held-out rollouts: the samples' groups (templates or problems) are dealt into
/// `folds` folds; each fold is scored by an MLP trained on the others. Grouping keeps
/// a group's correlated mismatches on one side, so the estimate is not inflated by them.
pub fn cross_validated_agreement(groups: &[String], samples: &[Sample], folds: usize, opts: &TrainOptions, threshold: f32) -> (usize, usize) {
    assert_eq!(groups.len(), samples.len(), "one group per sample");
    let mut names: Vec<&String> = groups.iter().collect();
    names.sort();
    names.dedup();
    let folds = folds.clamp(2, names.len().max(2));
    let fold_of = |g: &String| names.binary_search(&g).unwrap_or(0) % folds;
    let (mut agree, mut total) = (0, 0);
    for f in 0..folds {
        let (train_set, test): (Vec<_>, Vec<_>) = groups.iter().zip(samples).partition(|(g, _)| fold_of(g) != f);
        let test: Vec<Sample> = test.into_iter().map(|(_, s)| s.clone()).collect();
        if test.iter().all(|s| s.reward_keep == s.reward_take) {
            continue;
        }
        let mlp = fit(&train_set.into_iter().map(|(_, s)| s.clone()).collect::<Vec<_>>(), opts);
        let (a, n) = oracle_agreement(&mlp, &test, threshold);
        agree += a;
        total += n;
    }
    (agree, total)
}
