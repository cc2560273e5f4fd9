//! The rollouts file: one JSON line per mismatch whose two branches were rolled out and graded.
//! Append-only (jsonl.rs), so collection resumes across runs; a torn line (a run killed
//! mid-write) is skipped on reading and fenced off before the next append.

use super::jsonl;
use super::policy_gradient::Sample;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rollout {
    /// Problem key (template and variant).
    pub problem: String,
    /// Collection round (the policy that produced the trajectory).
    pub round: u32,
    /// Index of the mismatch token in the generated output.
    pub position: usize,
    pub features: Vec<f32>,
    pub reward_keep: f32,
    pub reward_take: f32,
    /// Generated tokens of each branch (for the cost of keeping).
    pub tokens_keep: usize,
    pub tokens_take: usize,
}

impl Rollout {
    pub fn sample(&self) -> Sample {
        Sample { features: self.features.clone(), reward_keep: self.reward_keep, reward_take: self.reward_take }
    }
}

pub fn append(path: &Path, rollouts: &[Rollout]) -> std::io::Result<()> {
    let lines = rollouts.iter().map(|r| serde_json::to_string(r).map_err(std::io::Error::other)).collect::<std::io::Result<Vec<_>>>()?;
    jsonl::append_lines(&mut jsonl::open_append(path)?, &lines)
}

/// Every complete record; a missing file is an empty set.
pub fn load(path: &Path) -> std::io::Result<Vec<Rollout>> {
    Ok(jsonl::read(path)?.items)
}

/// Which of a trajectory's `total` mismatches get their other branch rolled out, as indices in
/// order: the first `n`, or `n` spread evenly over the whole trajectory. The arbiter decides at
/// every mismatch, and the first few all fall in a trajectory's opening words (round 1's 240
/// rollouts: median position 30 of about 250 tokens), far from the arithmetic; a later branch
/// is also shorter to roll out.
pub fn branch_points(total: usize, n: usize, spread: bool) -> Vec<usize> {
    if !spread || total <= n {
        return (0..total.min(n)).collect();
    }
    // The middle of each of n equal slices: strictly increasing because total > n.
    (0..n).map(|j| (2 * j + 1) * total / (2 * n)).collect()
}
