//! Arbiter policies: at a draft/target mismatch, keep the draft's token or take the target's.
//! The GPU verify kernel (shaders/spec/verify.wgsl) runs them; `Policy::keeps` is the same rule
//! on the CPU, for tests and for training. The learned policy is a small MLP stored as
//! safetensors, with its input normalization inside.

use crate::ops::spec::FEATURES;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The feature vector at a mismatch (COSPEC.md), in kernel order. Probabilities are at
/// temperature 1 whatever the sampling temperature.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "q_draft",
    "q_max",
    "entropy_q",
    "q_target",
    "p_draft",
    "p_target",
    "entropy_p",
    "log1p_rank_draft_under_p",
    "logp_target_minus_logp_draft",
    "logq_draft_minus_logq_target",
    "tv_distance",
    "position_in_block",
    "progress",
    "keeps_so_far",
];

pub type Features = [f32; FEATURES];

/// Default thresholds (documented in the CLI help and README).
pub const DEFAULT_ENTROPY_TAU: f32 = 2.0;
pub const DEFAULT_COSD_ALPHA: f32 = 0.5;
pub const DEFAULT_COSD_BETA: f32 = 0.5;
pub const DEFAULT_CHOW_ALPHA: f32 = 0.3;
pub const DEFAULT_DIFF_ALPHA: f32 = 0.0;
pub const DEFAULT_OPT_ALPHA: f32 = 0.5;
pub const DEFAULT_LEARNED_THRESHOLD: f32 = 0.5;

#[derive(Clone, Debug, PartialEq)]
pub enum Policy {
    /// Always the target's token: lossless SPD.
    Target,
    /// Always the draft's token: an upper bound on speed.
    Draft,
    /// FLy-style entropy gate: keep when the target is uncertain, H(p) > tau.
    Entropy { tau: f32 },
    /// CoSD rule: keep when q(d) > alpha and p(d) > beta * p(t).
    Cosd { alpha: f32, beta: f32 },
    /// Speculative-cascade deferral rules (keep = do not defer to the target):
    /// Chow keeps when max q >= 1 - alpha.
    Chow { alpha: f32 },
    /// Diff keeps when max q >= max p - alpha.
    Diff { alpha: f32 },
    /// OPT keeps when max q >= max p - alpha * TV(p, q).
    Opt { alpha: f32 },
    /// The MLP's keep probability > threshold.
    Learned { mlp: Arc<Mlp>, threshold: f32 },
}

#[derive(Debug, thiserror::Error)]
pub enum ArbiterError {
    #[error("unknown policy {0:?} (target, draft, entropy, cosd, chow, diff, opt, learned)")]
    UnknownPolicy(String),
    #[error("the learned policy needs an arbiter weights file (--arbiter PATH)")]
    NoWeights,
    #[error("arbiter weights: {0}")]
    Invalid(String),
    #[error("policy {spec:?}: {why}")]
    BadSpec { spec: String, why: String },
}

/// Thresholds for every rule; `Policy::from_name` picks the ones it needs.
#[derive(Clone, Debug)]
pub struct PolicyThresholds {
    pub entropy_tau: f32,
    pub cosd_alpha: f32,
    pub cosd_beta: f32,
    pub chow_alpha: f32,
    pub diff_alpha: f32,
    pub opt_alpha: f32,
    pub learned_threshold: f32,
}

impl Default for PolicyThresholds {
    fn default() -> Self {
        PolicyThresholds {
            entropy_tau: DEFAULT_ENTROPY_TAU,
            cosd_alpha: DEFAULT_COSD_ALPHA,
            cosd_beta: DEFAULT_COSD_BETA,
            chow_alpha: DEFAULT_CHOW_ALPHA,
            diff_alpha: DEFAULT_DIFF_ALPHA,
            opt_alpha: DEFAULT_OPT_ALPHA,
            learned_threshold: DEFAULT_LEARNED_THRESHOLD,
        }
    }
}

impl Policy {
    pub const NAMES: [&'static str; 8] = ["target", "draft", "entropy", "cosd", "chow", "diff", "opt", "learned"];

    pub fn from_name(name: &str, th: &PolicyThresholds, mlp: Option<Arc<Mlp>>) -> Result<Policy, ArbiterError> {
        Ok(match name {
            "target" => Policy::Target,
            "draft" => Policy::Draft,
            "entropy" => Policy::Entropy { tau: th.entropy_tau },
            "cosd" => Policy::Cosd { alpha: th.cosd_alpha, beta: th.cosd_beta },
            "chow" => Policy::Chow { alpha: th.chow_alpha },
            "diff" => Policy::Diff { alpha: th.diff_alpha },
            "opt" => Policy::Opt { alpha: th.opt_alpha },
            "learned" => Policy::Learned { mlp: mlp.ok_or(ArbiterError::NoWeights)?, threshold: th.learned_threshold },
            other => return Err(ArbiterError::UnknownPolicy(other.to_string())),
        })
    }

    /// `NAME` or `NAME=V1[/V2]`: the named rule with the given thresholds in place of `th`'s,
    /// in the order the rule takes them: entropy tau, cosd alpha/beta, chow, diff and opt
    /// alpha, learned threshold (a tuning grid's points, e.g. `cosd=0.3/0.7`).
    pub fn from_spec(spec: &str, th: &PolicyThresholds, mlp: Option<Arc<Mlp>>) -> Result<Policy, ArbiterError> {
        let Some((name, values)) = spec.split_once('=') else {
            return Policy::from_name(spec, th, mlp);
        };
        let bad = |why: String| ArbiterError::BadSpec { spec: spec.to_string(), why };
        let values: Vec<f32> = values
            .split('/')
            .map(|v| v.trim().parse::<f32>().ok().filter(|x| x.is_finite()).ok_or_else(|| bad(format!("{v:?} is not a finite number"))))
            .collect::<Result<_, _>>()?;
        let mut th = th.clone();
        let slots: Vec<&mut f32> = match name {
            "entropy" => vec![&mut th.entropy_tau],
            "cosd" => vec![&mut th.cosd_alpha, &mut th.cosd_beta],
            "chow" => vec![&mut th.chow_alpha],
            "diff" => vec![&mut th.diff_alpha],
            "opt" => vec![&mut th.opt_alpha],
            "learned" => vec![&mut th.learned_threshold],
            "target" | "draft" => return Err(bad(format!("{name} takes no thresholds"))),
            other => return Err(ArbiterError::UnknownPolicy(other.to_string())),
        };
        if values.len() != slots.len() {
            return Err(bad(format!("{name} takes {} threshold(s), separated by '/'; got {}", slots.len(), values.len())));
        }
        for (slot, v) in slots.into_iter().zip(values) {
            *slot = v;
        }
        Policy::from_name(name, &th, mlp)
    }

    pub fn name(&self) -> &'static str {
        Self::NAMES[self.id() as usize]
    }

    /// The kernel's policy id (shaders/spec/verify.wgsl).
    pub fn id(&self) -> u32 {
        match self {
            Policy::Target => 0,
            Policy::Draft => 1,
            Policy::Entropy { .. } => 2,
            Policy::Cosd { .. } => 3,
            Policy::Chow { .. } => 4,
            Policy::Diff { .. } => 5,
            Policy::Opt { .. } => 6,
            Policy::Learned { .. } => 7,
        }
    }

    /// The kernel's thresholds (x, y).
    pub fn thresholds(&self) -> [f32; 2] {
        match *self {
            Policy::Target | Policy::Draft => [0.0, 0.0],
            Policy::Entropy { tau } => [tau, 0.0],
            Policy::Cosd { alpha, beta } => [alpha, beta],
            Policy::Chow { alpha } | Policy::Diff { alpha } | Policy::Opt { alpha } => [alpha, 0.0],
            Policy::Learned { threshold, .. } => [threshold, 0.0],
        }
    }

    pub fn mlp(&self) -> Option<&Arc<Mlp>> {
        match self {
            Policy::Learned { mlp, .. } => Some(mlp),
            _ => None,
        }
    }

    /// The rule on the CPU (the GPU runs the same in f32).
    pub fn keeps(&self, f: &Features) -> bool {
        let (q_d, q_max, p_d, p_t, h_p, tv) = (f[0], f[1], f[4], f[5], f[6], f[10]);
        match self {
            Policy::Target => false,
            Policy::Draft => true,
            Policy::Entropy { tau } => h_p > *tau,
            Policy::Cosd { alpha, beta } => q_d > *alpha && p_d > beta * p_t,
            Policy::Chow { alpha } => q_max >= 1.0 - alpha,
            Policy::Diff { alpha } => q_max >= p_t - alpha,
            Policy::Opt { alpha } => q_max >= p_t - alpha * tv,
            Policy::Learned { mlp, threshold } => mlp.keep_probability(f) > *threshold,
        }
    }
}

/// features -> normalize -> tanh(W1 x + b1) -> w2 . h + b2 -> sigmoid = P(keep the draft).
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// [hidden][FEATURES], row-major.
    pub w1: Vec<f32>,
    pub b1: Vec<f32>,
    pub w2: Vec<f32>,
    pub b2: f32,
}

const MAX_HIDDEN: usize = 1024;

impl Mlp {
    pub fn hidden(&self) -> usize {
        self.b1.len()
    }

    /// A zero-initialized network with given normalization (output 0.5 everywhere).
    pub fn zeros(hidden: usize, mean: Vec<f32>, std: Vec<f32>) -> Mlp {
        Mlp { mean, std, w1: vec![0.0; hidden * FEATURES], b1: vec![0.0; hidden], w2: vec![0.0; hidden], b2: 0.0 }
    }

    fn check(&self) -> Result<(), ArbiterError> {
        let h = self.hidden();
        if h == 0 || h > MAX_HIDDEN {
            return Err(ArbiterError::Invalid(format!("hidden width {h} out of range 1..={MAX_HIDDEN}")));
        }
        for (name, len, want) in [
            ("norm.mean", self.mean.len(), FEATURES),
            ("norm.std", self.std.len(), FEATURES),
            ("fc1.weight", self.w1.len(), h * FEATURES),
            ("fc2.weight", self.w2.len(), h),
        ] {
            if len != want {
                return Err(ArbiterError::Invalid(format!("{name} has {len} values, {want} expected")));
            }
        }
        if self.std.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            return Err(ArbiterError::Invalid("norm.std must be positive and finite".into()));
        }
        Ok(())
    }

    /// Hidden pre-activations' tanh, for training.
    pub fn hidden_activations(&self, f: &Features) -> Vec<f32> {
        let x: Vec<f32> = (0..FEATURES).map(|i| (f[i] - self.mean[i]) * (1.0 / self.std[i])).collect();
        (0..self.hidden())
            .map(|h| {
                let z = self.b1[h] + (0..FEATURES).map(|i| self.w1[h * FEATURES + i] * x[i]).sum::<f32>();
                z.tanh()
            })
            .collect()
    }

    pub fn logit(&self, f: &Features) -> f32 {
        let a = self.hidden_activations(f);
        self.b2 + a.iter().zip(&self.w2).map(|(a, w)| a * w).sum::<f32>()
    }

    pub fn keep_probability(&self, f: &Features) -> f32 {
        1.0 / (1.0 + (-self.logit(f)).exp())
    }

    /// The kernel's weight layout: [mean][1/std][W1][b1][w2][b2].
    pub fn gpu_words(&self) -> Vec<f32> {
        let mut v = self.mean.clone();
        v.extend(self.std.iter().map(|s| 1.0 / s));
        v.extend(&self.w1);
        v.extend(&self.b1);
        v.extend(&self.w2);
        v.push(self.b2);
        v
    }

    pub fn to_safetensors(&self, extra: &HashMap<String, String>) -> Result<Vec<u8>, ArbiterError> {
        self.check()?;
        let h = self.hidden();
        let b2 = [self.b2];
        let tensors: Vec<(&str, &[f32], Vec<usize>)> = vec![
            ("norm.mean", &self.mean, vec![FEATURES]),
            ("norm.std", &self.std, vec![FEATURES]),
            ("fc1.weight", &self.w1, vec![h, FEATURES]),
            ("fc1.bias", &self.b1, vec![h]),
            ("fc2.weight", &self.w2, vec![1, h]),
            ("fc2.bias", &b2, vec![1]),
        ];
        let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
            .iter()
            .map(|(n, d, shape)| {
                let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytemuck::cast_slice(d))
                    .map_err(|e| ArbiterError::Invalid(e.to_string()))?;
                Ok((n.to_string(), view))
            })
            .collect::<Result<_, ArbiterError>>()?;
        let mut meta = extra.clone();
        meta.insert("features".into(), FEATURE_NAMES.join(","));
        let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| ArbiterError::Invalid(e.to_string()))?;
        sorted_header(bytes)
    }

    pub fn from_safetensors(bytes: &[u8]) -> Result<Mlp, ArbiterError> {
        let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| ArbiterError::Invalid(e.to_string()))?;
        let names = meta.metadata().as_ref().and_then(|m| m.get("features").cloned());
        if names.as_deref() != Some(FEATURE_NAMES.join(",").as_str()) {
            return Err(ArbiterError::Invalid(format!(
                "trained on features {:?}, this engine computes {:?}",
                names.unwrap_or_default(),
                FEATURE_NAMES.join(",")
            )));
        }
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| ArbiterError::Invalid(e.to_string()))?;
        let get = |name: &str| -> Result<Vec<f32>, ArbiterError> {
            let t = st.tensor(name).map_err(|_| ArbiterError::Invalid(format!("missing tensor {name}")))?;
            if t.dtype() != safetensors::Dtype::F32 {
                return Err(ArbiterError::Invalid(format!("{name} is {:?}, F32 expected", t.dtype())));
            }
            Ok(t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        };
        let b2 = get("fc2.bias")?;
        if b2.len() != 1 {
            return Err(ArbiterError::Invalid(format!("fc2.bias has {} values, 1 expected", b2.len())));
        }
        let mlp = Mlp { mean: get("norm.mean")?, std: get("norm.std")?, w1: get("fc1.weight")?, b1: get("fc1.bias")?, w2: get("fc2.weight")?, b2: b2[0] };
        mlp.check()?;
        Ok(mlp)
    }
}

/// safetensors writes its header from hash maps, in another key order in every process; eval
/// fingerprints an arbiter by its bytes, so the same weights and metadata must give the same
/// file: the header is rewritten with its keys sorted (the same JSON, so the same length).
fn sorted_header(mut bytes: Vec<u8>) -> Result<Vec<u8>, ArbiterError> {
    fn sorted(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let ordered: BTreeMap<String, serde_json::Value> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::Value::Object(ordered.into_iter().collect())
            }
            other => other,
        }
    }
    let bad = |e: String| ArbiterError::Invalid(format!("rewriting the safetensors header: {e}"));
    let len = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize).ok_or_else(|| bad("no header".into()))?;
    let header = bytes.get(8..8 + len).ok_or_else(|| bad("header past the end".into()))?;
    let json = serde_json::to_vec(&sorted(serde_json::from_slice(header).map_err(|e| bad(e.to_string()))?)).map_err(|e| bad(e.to_string()))?;
    if json.len() > len {
        return Err(bad(format!("{} bytes where {len} were", json.len())));
    }
    // safetensors pads the header with spaces to its alignment.
    bytes[8..8 + json.len()].copy_from_slice(&json);
    bytes[8 + json.len()..8 + len].fill(b' ');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_sets_the_rules_thresholds_in_order() {
        let th = PolicyThresholds::default();
        assert_eq!(Policy::from_spec("cosd", &th, None).unwrap(), Policy::Cosd { alpha: DEFAULT_COSD_ALPHA, beta: DEFAULT_COSD_BETA });
        assert_eq!(Policy::from_spec("cosd=0.3/0.75", &th, None).unwrap(), Policy::Cosd { alpha: 0.3, beta: 0.75 });
        assert_eq!(Policy::from_spec("entropy=1.5", &th, None).unwrap(), Policy::Entropy { tau: 1.5 });
        assert_eq!(Policy::from_spec("diff=0.05", &th, None).unwrap(), Policy::Diff { alpha: 0.05 });
        for (spec, says) in [
            ("cosd=0.3", "takes 2 threshold(s)"),
            ("entropy=1/2", "takes 1 threshold(s)"),
            ("chow=x", "not a finite number"),
            ("opt=inf", "not a finite number"),
            ("target=1", "takes no thresholds"),
            ("magic=1", "unknown policy"),
            ("learned=0.4", "arbiter weights file"),
        ] {
            let e = Policy::from_spec(spec, &th, None).unwrap_err().to_string();
            assert!(e.contains(says), "{spec}: {e}");
        }
    }
}
