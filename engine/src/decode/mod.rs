//! Decoding: autoregressive generation, and speculative decoding with an arbiter.

pub mod arbiter;
pub mod generate;
pub mod speculative;

pub use crate::ops::sample::SamplingParams;
pub use generate::{generate, GenerateOptions, GenerationOutput, GenerationStats};
pub use speculative::{Branch, LockstepDone, LockstepJob, Mode, Origin, SpecOptions, SpecOutput, SpecRun, SpecSession, SpecStats};
