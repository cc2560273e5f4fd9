//! The rollouts file: one JSON line per mismatch whose two branches were rolled out and graded.
//! Append-only, so collection resumes across runs; a torn last line (a run killed mid-write)
//! is skipped on reading.

use super::policy_gradient::Sample;
use std::io::Write;
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
    let mut text = String::new();
    for r in rollouts {
        text.push_str(&serde_json::to_string(r).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text.as_bytes())?;
    f.flush()
}

/// Every complete record; a missing file is an empty set.
pub fn load(path: &Path) -> std::io::Result<Vec<Rollout>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}
