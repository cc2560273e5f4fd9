//! The arbiter's learner on a seeded synthetic contextual bandit: features -> a known best arm
//! (a nonlinear rule), both arms' rewards observed with noise. The learned policy must pick the
//! best arm on >= 95% of fresh states, within seconds. And the fitted arbiter's file is
//! deterministic.

use cospec_eval::policy_gradient::{cross_validated_agreement, fit, oracle_agreement, select_weight_decay, train, Rng, Sample, TrainOptions, CONSTANT_RULE};
use cospec::ops::spec::FEATURES;

/// Keep the draft when the draft is confident and the target is unsure, or late in the block.
fn best_is_keep(f: &[f32]) -> bool {
    (f[1] > 0.6 && f[6] > 1.5) || f[11] > 6.5
}

fn bandit(n: usize, seed: u64) -> Vec<Sample> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| {
            let mut f: Vec<f32> = (0..FEATURES).map(|i| if i == 11 { 1.0 + (r.uniform() * 8.0).floor() } else { r.uniform() * 3.0 }).collect();
            f[1] = r.uniform();
            let keep = best_is_keep(&f);
            // Noisy Bernoulli rewards: the better arm succeeds 90% of the time, the other 10%.
            let (pk, pt) = if keep { (0.9, 0.1) } else { (0.1, 0.9) };
            let reward_keep = (r.uniform() < pk) as u8 as f32;
            let reward_take = (r.uniform() < pt) as u8 as f32;
            f.truncate(FEATURES);
            Sample { features: f, reward_keep, reward_take }
        })
        .collect()
}

#[test]
fn learner_recovers_the_best_arm_of_a_synthetic_bandit() {
    let t = std::time::Instant::now();
    let train_set = bandit(4000, 1);
    let mlp = train(&train_set, &TrainOptions { hidden: 32, epochs: 800, learning_rate: 0.03, ..Default::default() });
    let test: Vec<Sample> = bandit(2000, 2)
        .into_iter()
        .map(|mut s| {
            // Grade against the true best arm, not the noisy rewards.
            let keep = best_is_keep(&s.features);
            s.reward_keep = keep as u8 as f32;
            s.reward_take = (!keep) as u8 as f32;
            s
        })
        .collect();
    let (agree, total) = oracle_agreement(&mlp, &test, 0.5);
    let acc = agree as f64 / total as f64;
    eprintln!("synthetic bandit: {agree}/{total} = {acc:.3} in {:.1} s", t.elapsed().as_secs_f64());
    assert!(acc >= 0.95, "the learner picked the best arm on only {acc:.3} of fresh states");
    // An untrained (zero) policy is at chance on this balanced-ish task: the test can fail.
    let zero = cospec::decode::arbiter::Mlp::zeros(8, mlp.mean.clone(), mlp.std.clone());
    let (z, _) = oracle_agreement(&zero, &test, 0.5);
    assert!((z as f64 / total as f64) < 0.8);
}

#[test]
fn cross_validation_tells_learnable_rollouts_from_noise() {
    let opts = TrainOptions { hidden: 16, epochs: 300, learning_rate: 0.03, ..Default::default() };
    let samples = bandit(600, 3);
    let groups: Vec<String> = (0..samples.len()).map(|i| format!("t{}", i / 4)).collect();
    let (a, n) = cross_validated_agreement(&groups, &samples, 5, &opts, 0.5);
    let learnable = a as f64 / n as f64;
    // The same rewards dealt to shuffled features: no rule to learn, so held-out folds sit near chance.
    let mut r = Rng::new(9);
    let mut shuffled = samples.clone();
    for i in (1..shuffled.len()).rev() {
        let j = (r.next_u64() % (i as u64 + 1)) as usize;
        let f = shuffled[i].features.clone();
        shuffled[i].features = shuffled[j].features.clone();
        shuffled[j].features = f;
    }
    let (b, m) = cross_validated_agreement(&groups, &shuffled, 5, &opts, 0.5);
    let noise = b as f64 / m as f64;
    eprintln!("cross-validated agreement: learnable {a}/{n} = {learnable:.3}, shuffled {b}/{m} = {noise:.3}");
    assert!(learnable > 0.8, "{learnable}");
    assert!(noise < 0.65, "{noise}");
}

#[test]
fn the_same_arbiter_is_written_as_the_same_bytes() {
    // eval tells arbiters apart by their files' bytes: a refit to the same weights and
    // metadata must not look like a new arbiter (safetensors' header comes from hash maps).
    let mlp = cospec_tests::random_mlp(16, &mut cospec_tests::blocks::rng(5));
    let write = || {
        let meta: std::collections::HashMap<String, String> =
            [("rounds", "1"), ("rollouts", "152"), ("threshold", "0.5"), ("cv_agreement", "16/30"), ("k", "4"), ("max_tokens", "384")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        mlp.to_safetensors(&meta).unwrap()
    };
    let first = write();
    for _ in 0..8 {
        assert!(write() == first, "another byte order for the same arbiter");
    }
    assert_eq!(cospec::decode::arbiter::Mlp::from_safetensors(&first).unwrap(), mlp);
    let (_, meta) = safetensors::SafeTensors::read_metadata(&first).unwrap();
    assert_eq!(meta.metadata().as_ref().and_then(|m| m.get("cv_agreement")).map(String::as_str), Some("16/30"));
}

#[test]
fn weight_decay_is_chosen_by_cross_validation() {
    let opts = TrainOptions { hidden: 16, epochs: 300, learning_rate: 0.03, ..Default::default() };
    let grid = [1e-4, 1e-2, 1.0];
    let groups: Vec<String> = (0..600).map(|i| format!("t{}", i / 4)).collect();
    // A rule to learn: a small decay fits it, the largest pins the policy to one arm and loses.
    let learnable = bandit(600, 3);
    let (chosen, scores) = select_weight_decay(&groups, &learnable, 5, &opts, 0.5, &grid);
    eprintln!("learnable: {scores:?}");
    // The constant rule is always scored, after the candidates given.
    assert_eq!(scores.iter().map(|s| s.weight_decay).collect::<Vec<_>>(), [&grid[..], &[CONSTANT_RULE]].concat());
    assert!(chosen.weight_decay < 1.0 && chosen.agree as f64 > 0.8 * chosen.total as f64, "{scores:?}");
    assert!(scores.iter().all(|s| s.agree * chosen.total <= chosen.agree * s.total), "{scores:?}");
    // Features that say nothing: the target's arm is the better one 60% of the time whatever
    // they are. Nothing beats the constant rule on held-out problems, so it is the choice (ties
    // with the decay that pins the policy go to it), and the fit takes the target's token on
    // fresh states.
    let mut r = Rng::new(11);
    let noise: Vec<Sample> = bandit(600, 4)
        .into_iter()
        .map(|mut s| {
            s.reward_keep = (r.uniform() < 0.4) as u8 as f32;
            s.reward_take = (r.uniform() < 0.6) as u8 as f32;
            s
        })
        .collect();
    let (chosen, scores) = select_weight_decay(&groups, &noise, 5, &opts, 0.5, &grid);
    eprintln!("noise: {scores:?}");
    assert_eq!(chosen.weight_decay, CONSTANT_RULE, "{scores:?}");
    let constant = scores.last().unwrap();
    assert!(scores.iter().all(|s| s.agree * constant.total <= constant.agree * s.total), "{scores:?}");
    let mlp = fit(&noise, &TrainOptions { weight_decay: chosen.weight_decay, ..opts.clone() });
    let fresh = bandit(1000, 5);
    let keeps = fresh.iter().filter(|s| mlp.keep_probability(&s.features.as_slice().try_into().unwrap()) >= 0.5).count();
    assert!(keeps < 50, "the pinned policy kept on {keeps} of 1000 fresh states");
    // A decay too small to pin the policy fits the noise and scores below the constant rule
    // held out, so the constant is chosen over it (where a choice among decays alone would
    // have taken the noise-fitting one).
    let (chosen, scores) = select_weight_decay(&groups, &noise, 5, &TrainOptions { hidden: 32, epochs: 600, learning_rate: 0.05, ..opts.clone() }, 0.5, &[1e-5]);
    eprintln!("noise, small decay only: {scores:?}");
    assert_eq!(chosen.weight_decay, CONSTANT_RULE, "{scores:?}");
    assert!(scores[0].agree < scores[1].agree, "{scores:?}");
    // Ties go to the larger decay: when every candidate agrees on every held-out rollout, the
    // constant rule.
    let take_always: Vec<Sample> = bandit(200, 6).into_iter().map(|s| Sample { reward_keep: 0.0, reward_take: 1.0, ..s }).collect();
    let (chosen, scores) = select_weight_decay(&groups[..200], &take_always, 5, &opts, 0.5, &[1e-2, 1e-1, 1e-3]);
    assert!(scores.iter().all(|s| s.agree == s.total && s.total > 0), "{scores:?}");
    assert_eq!(chosen.weight_decay, CONSTANT_RULE);
    // The constant rule keeps when keeping is the better arm on average, net of its cost.
    let keep_better: Vec<Sample> = bandit(200, 7).into_iter().map(|s| Sample { reward_keep: 1.0, reward_take: 0.5, ..s }).collect();
    let probe = keep_better[0].features.as_slice().try_into().unwrap();
    assert!(fit(&keep_better, &TrainOptions { weight_decay: CONSTANT_RULE, ..opts.clone() }).keep_probability(&probe) > 0.99);
    assert!(fit(&keep_better, &TrainOptions { weight_decay: CONSTANT_RULE, keep_cost: 0.6, ..opts.clone() }).keep_probability(&probe) < 0.01);
}
