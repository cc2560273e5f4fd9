//! Evaluation on math word problems: answer grading and the problem set.

pub mod grading;
pub mod jsonl;
pub mod policy_gradient;
pub mod problems;
pub mod report;
pub mod rollouts;
pub mod shard;
