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
