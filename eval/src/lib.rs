//! Evaluation and arbiter training on math word problems: the problem set and its prompts,
//! answer grading, records and tables, branch rollouts and the policy-gradient learner. Files
//! and plots live here, outside the engine crate that is compiled to wasm for the page.

pub mod grading;
pub mod jsonl;
pub mod policy_gradient;
pub mod problems;
pub mod report;
pub mod rollouts;
pub mod shard;
pub mod tuning;
