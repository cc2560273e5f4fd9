//! Model hyper-parameters read from GGUF metadata (HF configs are translated to the same keys).

use crate::formats::{hf::HF_ROPE_KEY, FormatError, MetaValue, ModelFile};
use crate::ops::gated_act::Gate;

/// Architectures the engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Llama,
    Qwen2,
    /// Qwen3 (dense): qwen2's layout without QKV biases, each q and k head RMS-normalized
    /// before rope, heads of their own size (attention.key_length), not hidden / heads.
    Qwen3,
    /// Gemma 3: embeddings scaled by sqrt(hidden), q/k norms, norms after attention and after
    /// the FFN as well as before, a GELU gate, and sliding-window layers with their own rope
    /// base beside global ones.
    Gemma3,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
            Arch::Gemma3 => "gemma3",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ModelConfig {
    pub arch: Arch,
    pub n_layer: usize,
    pub hidden: usize,
    pub ffn: usize,
    pub n_head: usize,
    pub n_kv: usize,
    pub head_dim: usize,
    pub vocab: usize,
    /// Context length the model was trained for.
    pub train_ctx: usize,
    pub rope_theta: f64,
    pub rms_eps: f32,
    /// Q/K rows are in HF order (rotate halves) rather than GGUF llama's permuted order.
    pub rope_halves: bool,
    pub tied_output: bool,
    pub qkv_bias: bool,
    /// Per rotary frequency (head_dim / 2), what its angle is divided by: Llama 3's rope
    /// factors (GGUF `rope_freqs.weight`, HF `rope_scaling` of type llama3) times a linear
    /// scaling factor; all 1 for plain rope.
    pub rope_freq_divisors: Vec<f32>,
    /// Each q and k head RMS-normalized and scaled by a gain (attn_q_norm, attn_k_norm) before
    /// rope: qwen3.
    pub qk_norm: bool,
    /// What the embedding rows are multiplied by (gemma3: sqrt(hidden); else 1).
    pub embed_scale: f32,
    /// The attention output and the FFN output are RMS-normalized (post_attention_norm,
    /// post_ffw_norm) before they join the residual: gemma3.
    pub post_norms: bool,
    /// The FFN gate's activation.
    pub gate: Gate,
    /// Sliding-window layers attend to their last `sliding_window` positions (0: no layer
    /// does); `swa_layers[l]` says which layers, whose rope uses `rope_theta_swa` unscaled.
    pub sliding_window: usize,
    pub swa_layers: Vec<bool>,
    pub rope_theta_swa: f64,
}

/// Upper bounds that keep a hostile header from asking for absurd buffers.
const MAX_DIM: usize = 1 << 17;
const MAX_LAYERS: usize = 1024;

impl ModelConfig {
    pub fn from_file(f: &ModelFile) -> Result<ModelConfig, FormatError> {
        let arch_name = f.architecture()?;
        let arch = match arch_name {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "qwen3" => Arch::Qwen3,
            "gemma3" => Arch::Gemma3,
            other => {
                return Err(FormatError::Invalid(format!(
                    "unknown architecture '{other}' (supported: llama, qwen2, qwen3, gemma3)"
                )))
            }
        };
        let key = |k: &str| format!("{arch_name}.{k}");
        let get_usize = |k: &str| -> Result<usize, FormatError> {
            let v = f
                .meta(&key(k))
                .ok_or_else(|| FormatError::Missing(format!("metadata {}", key(k))))?;
            let n = v
                .as_u64()
                .ok_or_else(|| FormatError::Invalid(format!("metadata {} is not an integer", key(k))))?;
            Ok(n as usize)
        };
        let n_layer = get_usize("block_count")?;
        let hidden = get_usize("embedding_length")?;
        let ffn = get_usize("feed_forward_length")?;
        let n_head = get_usize("attention.head_count")?;
        let n_kv = f.meta(&key("attention.head_count_kv")).and_then(|v| v.as_u64()).map(|v| v as usize).unwrap_or(n_head);
        let train_ctx = f.meta(&key("context_length")).and_then(|v| v.as_u64()).unwrap_or(2048) as usize;
        let rope_theta = f.meta(&key("rope.freq_base")).and_then(|v| v.as_f64()).unwrap_or(10000.0);
        let rms_eps = f
            .meta(&key("attention.layer_norm_rms_epsilon"))
            .and_then(|v| v.as_f64())
            .unwrap_or(1e-6) as f32;
        let bad = |what: String| Err(FormatError::Shape(what));
        if n_layer == 0 || n_layer > MAX_LAYERS {
            return bad(format!("{n_layer} layers"));
        }
        for (name, v) in [("embedding_length", hidden), ("feed_forward_length", ffn), ("head_count", n_head), ("head_count_kv", n_kv)] {
            if v == 0 || v > MAX_DIM {
                return bad(format!("{name} = {v} is out of range"));
            }
        }
        // A head's size: its own key (qwen3), else hidden / heads.
        let key_length = f.meta(&key("attention.key_length")).and_then(|v| v.as_u64()).map(|v| v as usize);
        if n_head % n_kv != 0 || (key_length.is_none() && hidden % n_head != 0) {
            return bad(format!("hidden {hidden}, heads {n_head} and kv heads {n_kv} do not divide"));
        }
        let head_dim = key_length.unwrap_or(hidden / n_head);
        if head_dim == 0 || head_dim > 1024 || n_head * head_dim > MAX_DIM {
            return bad(format!("head dimension {head_dim} with {n_head} heads is out of range"));
        }
        if let Some(v) = f.meta(&key("attention.value_length")).and_then(|v| v.as_u64()) {
            if v as usize != head_dim {
                return Err(FormatError::NotUnderstood(format!("metadata {} = {v} (values of another size than keys, {head_dim})", key("attention.value_length"))));
            }
        }
        if head_dim % 4 != 0 {
            return bad(format!("head dimension {head_dim} is not a multiple of 4"));
        }
        let emb = f.require("token_embd.weight")?;
        if emb.shape.len() != 2 || emb.shape[1] != hidden {
            return bad(format!("token_embd.weight has shape {:?}, expected [vocab, {hidden}]", emb.shape));
        }
        let vocab = emb.shape[0];
        if rope_theta <= 0.0 || !rope_theta.is_finite() || !(rms_eps > 0.0 && rms_eps < 1.0) {
            return bad(format!("rope theta {rope_theta} or rms eps {rms_eps} out of range"));
        }
        let rope_halves = match arch {
            Arch::Qwen2 | Arch::Qwen3 | Arch::Gemma3 => true,
            Arch::Llama => f.meta(HF_ROPE_KEY).and_then(|v| v.as_bool()).unwrap_or(false),
        };
        let rope_freq_divisors = rope_divisors(f, arch_name, head_dim, rope_theta)?;
        let gemma = arch == Arch::Gemma3;
        if gemma && n_layer == 62 {
            // llama.cpp scales the 27B's queries by 1 / sqrt(hidden / heads), not by the head size.
            return Err(FormatError::NotUnderstood("Gemma 3 27B (62 layers): its query scale is not implemented".into()));
        }
        let (sliding_window, swa_layers, rope_theta_swa) = if gemma { sliding_windows(f, arch_name, n_layer)? } else { (0, vec![false; n_layer], rope_theta) };
        let config = ModelConfig {
            arch,
            n_layer,
            hidden,
            ffn,
            n_head,
            n_kv,
            head_dim,
            vocab,
            train_ctx,
            rope_theta,
            rms_eps,
            rope_halves,
            tied_output: f.tensor("output.weight").is_none(),
            qkv_bias: f.tensor("blk.0.attn_q.bias").is_some(),
            qk_norm: matches!(arch, Arch::Qwen3 | Arch::Gemma3),
            rope_freq_divisors,
            embed_scale: if gemma { (hidden as f32).sqrt() } else { 1.0 },
            post_norms: gemma,
            gate: if gemma { Gate::GeluTanh } else { Gate::Silu },
            sliding_window,
            swa_layers,
            rope_theta_swa,
        };
        super::understood::check(f, &config)?;
        Ok(config)
    }

    pub fn q_width(&self) -> usize {
        self.n_head * self.head_dim
    }

    pub fn kv_width(&self) -> usize {
        self.n_kv * self.head_dim
    }
}

/// Gemma 3's local layers, as llama.cpp reads them: a window of `attention.sliding_window`
/// positions (none when absent or 0) on the layers `attention.sliding_window_pattern` names
/// (an array of flags, or n: every layer but each n-th; default 6), whose rope base is
/// `rope.freq_base_swa` (default 10,000).
fn sliding_windows(f: &ModelFile, arch: &str, n_layer: usize) -> Result<(usize, Vec<bool>, f64), FormatError> {
    let key = |k: &str| format!("{arch}.{k}");
    let window = match f.meta(&key("attention.sliding_window")) {
        None => 0,
        Some(v) => v.as_u64().filter(|&w| w < 1 << 24).ok_or_else(|| FormatError::Invalid(format!("metadata {} is not a window size", key("attention.sliding_window"))))? as usize,
    };
    let theta = f.meta(&key("rope.freq_base_swa")).and_then(|v| v.as_f64()).unwrap_or(10000.0);
    if !(theta > 0.0 && theta.is_finite()) {
        return Err(FormatError::Invalid(format!("metadata {} = {theta} is out of range", key("rope.freq_base_swa"))));
    }
    if window == 0 {
        return Ok((0, vec![false; n_layer], theta));
    }
    let pattern_key = key("attention.sliding_window_pattern");
    let layers = match f.meta(&pattern_key) {
        Some(MetaValue::Array(a)) => {
            let flags: Option<Vec<bool>> = a.iter().map(|v| v.as_bool()).collect();
            match flags {
                Some(fl) if fl.len() == n_layer => fl,
                _ => return Err(FormatError::Invalid(format!("metadata {pattern_key} is not one flag per layer ({n_layer})"))),
            }
        }
        Some(v) => {
            let n = v.as_u64().ok_or_else(|| FormatError::Invalid(format!("metadata {pattern_key} is neither flags nor a period")))? as usize;
            (0..n_layer).map(|l| n == 0 || l % n < n - 1).collect()
        }
        None => (0..n_layer).map(|l| l % 6 < 5).collect(),
    };
    Ok((window, layers, theta))
}

/// HF `rope_scaling` of type llama3, translated by formats/hf.rs to these keys.
pub const LLAMA3_ROPE_KEYS: [&str; 4] =
    ["cospec.rope.llama3.factor", "cospec.rope.llama3.low_freq_factor", "cospec.rope.llama3.high_freq_factor", "cospec.rope.llama3.original_context_length"];

/// What each rotary frequency's angle is divided by (`ModelConfig::rope_freq_divisors`).
fn rope_divisors(f: &ModelFile, arch: &str, head_dim: usize, theta: f64) -> Result<Vec<f32>, FormatError> {
    let half = head_dim / 2;
    let positive = |key: &str| -> Result<f64, FormatError> {
        match f.meta(key).and_then(|v| v.as_f64()) {
            Some(v) if v.is_finite() && v > 0.0 && v < 1e6 => Ok(v),
            Some(v) => Err(FormatError::Invalid(format!("metadata {key} = {v} is out of range"))),
            None => Err(FormatError::Missing(format!("metadata {key}"))),
        }
    };
    let type_key = format!("{arch}.rope.scaling.type");
    let mut d = vec![1.0f32; half];
    match f.meta(&type_key).map(|v| v.as_str()) {
        None | Some(Some("none")) => {}
        // Positions compressed by the factor (llama.cpp's freq_scale = 1 / factor).
        Some(Some("linear")) => {
            let factor = positive(&format!("{arch}.rope.scaling.factor"))? as f32;
            d.iter_mut().for_each(|x| *x = factor);
        }
        Some(Some("llama3")) => {
            let [factor, low, high, old_ctx] = LLAMA3_ROPE_KEYS.map(|k| positive(k));
            d = llama3_divisors(head_dim, theta, factor?, low?, high?, old_ctx?)?;
        }
        Some(other) => {
            return Err(FormatError::NotUnderstood(format!("metadata {type_key} = {:?} (rope scaling: none, linear and llama3 are implemented)", other.unwrap_or("(not a string)"))));
        }
    }
    if let Some(t) = f.tensor("rope_freqs.weight") {
        if t.shape.iter().product::<usize>() != half {
            return Err(FormatError::Shape(format!("rope_freqs.weight has shape {:?}, expected [{half}] (head dimension / 2)", t.shape)));
        }
        let factors = f.tensor_f32("rope_freqs.weight")?;
        if let Some(bad) = factors.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return Err(FormatError::Invalid(format!("rope_freqs.weight holds {bad}: rope factors must be positive")));
        }
        d.iter_mut().zip(&factors).for_each(|(x, ff)| *x *= ff);
    }
    Ok(d)
}

/// Llama 3.1's rope scaling, as transformers and llama.cpp's converter compute it: long
/// wavelengths divided by `factor`, short ones kept, a smooth blend between.
pub fn llama3_divisors(head_dim: usize, theta: f64, factor: f64, low: f64, high: f64, old_ctx: f64) -> Result<Vec<f32>, FormatError> {
    if high <= low {
        return Err(FormatError::Invalid(format!("llama3 rope scaling: high_freq_factor {high} must exceed low_freq_factor {low}")));
    }
    let (low_wavelen, high_wavelen) = (old_ctx / low, old_ctx / high);
    Ok((0..head_dim / 2)
        .map(|i| {
            let freq = theta.powf(-2.0 * i as f64 / head_dim as f64);
            let wavelen = 2.0 * std::f64::consts::PI / freq;
            if wavelen < high_wavelen {
                1.0
            } else if wavelen > low_wavelen {
                factor as f32
            } else {
                let smooth = (old_ctx / wavelen - low) / (high - low);
                (1.0 / ((1.0 - smooth) / factor + smooth)) as f32
            }
        })
        .collect())
}
