//! Tiny random llama and qwen2 models written as GGUF files in memory, with a byte-level
//! vocabulary so the tokenizer and chat template paths work on them too.

use crate::blocks::{random_tensor, rng};
use cospec::formats::gguf::{write, MetaValue};
use cospec::formats::{DType, ModelFile};
use half::f16;
use rand::Rng;

#[derive(Clone, Debug)]
pub struct TinySpec {
    pub arch: &'static str,
    pub layers: usize,
    pub hidden: usize,
    pub ffn: usize,
    pub heads: usize,
    pub kv_heads: usize,
    /// A head's size when it is not hidden / heads (qwen3 writes attention.key_length).
    pub head_dim: Option<usize>,
    pub vocab: usize,
    pub qkv_bias: bool,
    /// Per-head q and k norm gains (qwen3).
    pub qk_norm: bool,
    pub tied: bool,
    /// Types of attention, FFN, embedding and output weights.
    pub attn_type: DType,
    /// attn_v's type: when it differs from attn_type the q/k/v products cannot be stacked.
    pub v_type: DType,
    pub ffn_type: DType,
    pub embd_type: DType,
    pub out_type: DType,
    pub seed: u64,
    /// Regenerates the last layer's FFN down projection from this seed at this scale: the
    /// same model but for one matrix, a draft that often agrees with its target.
    pub perturb_last_ffn: Option<(u64, f32)>,
    /// Llama 3's rope frequency factors, written as `rope_freqs.weight` (one per rotated pair).
    pub rope_freqs: Option<Vec<f32>>,
}

/// llama: GQA, tied output, 32-element block types.
pub fn tiny_llama(seed: u64) -> TinySpec {
    TinySpec {
        arch: "llama",
        layers: 3,
        hidden: 64,
        ffn: 96,
        heads: 4,
        kv_heads: 2,
        head_dim: None,
        vocab: 300,
        qkv_bias: false,
        qk_norm: false,
        tied: true,
        attn_type: DType::Q4_0,
        v_type: DType::Q4_0,
        ffn_type: DType::Q5_0,
        embd_type: DType::Q8_0,
        out_type: DType::Q8_0,
        seed,
        perturb_last_ffn: None,
        rope_freqs: None,
    }
}

/// llama with Llama 3.1/3.2's rope frequency factors (`rope_freqs.weight`: 1 for the fastest
/// pairs, up to 8 for the slowest, as llama.cpp's converter writes them).
pub fn tiny_llama3(seed: u64) -> TinySpec {
    let s = tiny_llama(seed);
    let half = s.hidden / s.heads / 2;
    TinySpec { rope_freqs: Some((0..half).map(|i| 1.0 + 7.0 * (i as f32 / (half - 1) as f32).powi(2)).collect()), ..s }
}

/// qwen2: GQA, QKV bias, separate output, K-quants, a v projection of another type.
pub fn tiny_qwen2(seed: u64) -> TinySpec {
    TinySpec {
        arch: "qwen2",
        layers: 2,
        hidden: 256,
        ffn: 512,
        heads: 4,
        kv_heads: 2,
        head_dim: None,
        vocab: 300,
        qkv_bias: true,
        qk_norm: false,
        tied: false,
        attn_type: DType::Q4K,
        v_type: DType::Q6K,
        ffn_type: DType::Q5K,
        embd_type: DType::F16,
        out_type: DType::Q6K,
        seed,
        perturb_last_ffn: None,
        rope_freqs: None,
    }
}

/// qwen3: heads wider than hidden / heads (q is 2x hidden), no biases, per-head q/k norms.
pub fn tiny_qwen3(seed: u64) -> TinySpec {
    TinySpec { arch: "qwen3", hidden: 256, heads: 4, kv_heads: 2, head_dim: Some(128), qkv_bias: false, qk_norm: true, ..tiny_qwen2(seed) }
}

/// gemma3: embeddings scaled by sqrt(hidden), q/k norms, norms after attention and the FFN,
/// a GELU gate, one KV head of heads wider than hidden / heads, and sliding-window layers (a
/// window of 6 positions on layers 0 and 2, with their own rope base) beside a global one.
pub fn tiny_gemma3(seed: u64) -> TinySpec {
    TinySpec {
        arch: "gemma3",
        layers: 3,
        hidden: 64,
        ffn: 160,
        heads: 4,
        kv_heads: 1,
        head_dim: Some(32),
        qkv_bias: false,
        qk_norm: true,
        tied: true,
        attn_type: DType::Q5_0,
        v_type: DType::Q8_0,
        ffn_type: DType::Q4_0,
        ..tiny_llama(seed)
    }
}

/// Gemma 3's sliding window in the tiny model.
pub const TINY_GEMMA3_WINDOW: usize = 6;

/// A hostile chat template: a string doubled forty times (2^43 bytes), far under minijinja's
/// step limit; only a memory limit on the rendering stops it.
pub const DOUBLING_CHAT_TEMPLATE: &str =
    "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}";

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// GPT-2's byte-to-character map (printable bytes map to themselves).
pub fn byte_char(b: u8) -> char {
    let printable = (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
    if printable {
        return b as char;
    }
    let mut n = 0u32;
    for x in 0..=255u8 {
        let p = (b'!'..=b'~').contains(&x) || (0xA1..=0xAC).contains(&x) || (0xAE..=0xFF).contains(&x);
        if !p {
            if x == b {
                return char::from_u32(256 + n).unwrap();
            }
            n += 1;
        }
    }
    unreachable!()
}

/// A tensor as the GGUF writer takes it: name, type, shape, bytes.
pub type TensorBytes = (String, DType, Vec<usize>, Vec<u8>);

/// The GGUF bytes of a tiny model. Vocabulary: 256 byte tokens, a few merges, ChatML specials,
/// padded to `vocab`.
pub fn tiny_gguf(s: &TinySpec) -> Vec<u8> {
    tiny_gguf_with(s, Vec::new(), Vec::new())
}

/// An F32 vector tensor.
pub fn f32_tensor(name: &str, v: &[f32]) -> TensorBytes {
    (name.to_string(), DType::F32, vec![v.len()], f32_bytes(v))
}

/// `tiny_gguf` with more metadata and tensors (what a newer converter would write).
pub fn tiny_gguf_with(s: &TinySpec, extra_meta: Vec<(String, MetaValue)>, extra_tensors: Vec<TensorBytes>) -> Vec<u8> {
    let mut r = rng(s.seed);
    let a = s.arch;
    let hd = s.head_dim.unwrap_or(s.hidden / s.heads);
    let (qw, kvw) = (s.heads * hd, s.kv_heads * hd);
    let mut tokens: Vec<String> = (0..=255u8).map(|b| byte_char(b).to_string()).collect();
    let merges = ["Ġ t", "h e", "Ġt he", "i n", "e r"];
    for m in merges {
        tokens.push(m.replace(' ', ""));
    }
    let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
    let first_special = tokens.len();
    for sp in specials {
        tokens.push(sp.to_string());
    }
    while tokens.len() < s.vocab {
        tokens.push(format!("[PAD{}]", tokens.len()));
    }
    let types: Vec<MetaValue> = (0..s.vocab)
        .map(|i| MetaValue::I32(if (first_special..first_special + 3).contains(&i) { 3 } else { 1 }))
        .collect();
    let mut meta = vec![
        ("general.architecture".to_string(), MetaValue::Str(a.to_string())),
        (format!("{a}.block_count"), MetaValue::U32(s.layers as u32)),
        (format!("{a}.context_length"), MetaValue::U32(256)),
        (format!("{a}.embedding_length"), MetaValue::U32(s.hidden as u32)),
        (format!("{a}.feed_forward_length"), MetaValue::U32(s.ffn as u32)),
        (format!("{a}.attention.head_count"), MetaValue::U32(s.heads as u32)),
        (format!("{a}.attention.head_count_kv"), MetaValue::U32(s.kv_heads as u32)),
        (format!("{a}.rope.freq_base"), MetaValue::F32(10000.0)),
        (format!("{a}.attention.layer_norm_rms_epsilon"), MetaValue::F32(1e-5)),
        ("tokenizer.ggml.model".to_string(), MetaValue::Str("gpt2".into())),
        ("tokenizer.ggml.pre".to_string(), MetaValue::Str(if a.starts_with("qwen") { "qwen2" } else { "smollm" }.into())),
        ("tokenizer.ggml.tokens".to_string(), MetaValue::Array(tokens.into_iter().map(MetaValue::Str).collect())),
        ("tokenizer.ggml.token_type".to_string(), MetaValue::Array(types)),
        ("tokenizer.ggml.merges".to_string(), MetaValue::Array(merges.iter().map(|m| MetaValue::Str(m.to_string())).collect())),
        ("tokenizer.ggml.bos_token_id".to_string(), MetaValue::U32(first_special as u32 + 1)),
        ("tokenizer.ggml.eos_token_id".to_string(), MetaValue::U32(first_special as u32 + 2)),
    ];
    let mut tensors = Vec::new();
    let mut mat = |name: String, dt: DType, rows: usize, cols: usize, scale: f32, r: &mut rand::rngs::StdRng| {
        tensors.push((name, dt, vec![rows, cols], random_tensor(dt, rows * cols, scale, r)));
    };
    mat("token_embd.weight".into(), s.embd_type, s.vocab, s.hidden, 1.0, &mut r);
    let attn_scale = 1.0 / (s.hidden as f32).sqrt() * 2.0;
    for l in 0..s.layers {
        let n = |x: &str| format!("blk.{l}.{x}");
        mat(n("attn_q.weight"), s.attn_type, qw, s.hidden, attn_scale, &mut r);
        mat(n("attn_k.weight"), s.attn_type, kvw, s.hidden, attn_scale, &mut r);
        mat(n("attn_v.weight"), s.v_type, kvw, s.hidden, attn_scale, &mut r);
        mat(n("attn_output.weight"), s.attn_type, s.hidden, qw, attn_scale, &mut r);
        mat(n("ffn_gate.weight"), s.ffn_type, s.ffn, s.hidden, attn_scale, &mut r);
        mat(n("ffn_up.weight"), s.ffn_type, s.ffn, s.hidden, attn_scale, &mut r);
        mat(n("ffn_down.weight"), s.ffn_type, s.hidden, s.ffn, 1.0 / (s.ffn as f32).sqrt() * 2.0, &mut r);
    }
    if !s.tied {
        mat("output.weight".into(), s.out_type, s.vocab, s.hidden, attn_scale, &mut r);
    }
    drop(mat);
    if let Some((seed, scale)) = s.perturb_last_ffn {
        let name = format!("blk.{}.ffn_down.weight", s.layers - 1);
        let t = tensors.iter_mut().find(|t| t.0 == name).expect("the last FFN down projection");
        t.3 = random_tensor(s.ffn_type, s.hidden * s.ffn, scale / (s.ffn as f32).sqrt() * 2.0, &mut rng(seed));
    }
    for l in 0..s.layers {
        for norm in ["attn_norm.weight", "ffn_norm.weight"] {
            let g: Vec<f32> = (0..s.hidden).map(|_| r.random_range(0.5f32..1.5)).collect();
            tensors.push((format!("blk.{l}.{norm}"), DType::F32, vec![s.hidden], f32_bytes(&g)));
        }
        if s.qkv_bias {
            for (b, n) in [("attn_q.bias", qw), ("attn_k.bias", kvw), ("attn_v.bias", kvw)] {
                let v: Vec<f32> = (0..n).map(|_| r.random_range(-0.5f32..0.5)).collect();
                tensors.push((format!("blk.{l}.{b}"), DType::F32, vec![n], f32_bytes(&v)));
            }
        }
        if s.qk_norm {
            for norm in ["attn_q_norm.weight", "attn_k_norm.weight"] {
                let g: Vec<f32> = (0..hd).map(|_| r.random_range(0.5f32..1.5)).collect();
                tensors.push((format!("blk.{l}.{norm}"), DType::F32, vec![hd], f32_bytes(&g)));
            }
        }
        if a == "gemma3" {
            for norm in ["post_attention_norm.weight", "post_ffw_norm.weight"] {
                let g: Vec<f32> = (0..s.hidden).map(|_| r.random_range(0.5f32..1.5)).collect();
                tensors.push((format!("blk.{l}.{norm}"), DType::F32, vec![s.hidden], f32_bytes(&g)));
            }
        }
    }
    let g: Vec<f32> = (0..s.hidden).map(|_| r.random_range(0.5f32..1.5)).collect();
    tensors.push(("output_norm.weight".into(), DType::F32, vec![s.hidden], f32_bytes(&g)));
    let _ = f16::ZERO;
    if s.head_dim.is_some() {
        meta.push((format!("{a}.attention.key_length"), MetaValue::U32(hd as u32)));
        meta.push((format!("{a}.attention.value_length"), MetaValue::U32(hd as u32)));
    }
    if a == "gemma3" {
        meta.push((format!("{a}.attention.sliding_window"), MetaValue::U32(TINY_GEMMA3_WINDOW as u32)));
        meta.push((format!("{a}.attention.sliding_window_pattern"), MetaValue::U32(2)));
        meta.push((format!("{a}.rope.freq_base_swa"), MetaValue::F32(100.0)));
    }
    // Extra keys replace the defaults of the same name (another tokenizer, say).
    for (k, v) in extra_meta {
        match meta.iter_mut().find(|m| m.0 == k) {
            Some(m) => m.1 = v,
            None => meta.push((k, v)),
        }
    }
    if let Some(f) = &s.rope_freqs {
        tensors.push(f32_tensor("rope_freqs.weight", f));
    }
    tensors.extend(extra_tensors);
    write(&meta, &tensors)
}

pub fn tiny_model_file(s: &TinySpec) -> ModelFile {
    ModelFile::from_gguf(cospec::platform::blob_from_vec(tiny_gguf(s))).expect("tiny GGUF parses")
}

/// A SentencePiece vocabulary of `vocab` tokens as GGUF metadata (tokenizer model `llama`):
/// <pad> <eos> <bos>, the turn tokens, 256 byte tokens, then pieces with falling scores; for
/// `tiny_gguf_with`, replacing the byte-level BPE one.
pub fn spm_vocab_meta(vocab: usize) -> Vec<(String, MetaValue)> {
    let mut tokens: Vec<String> = ["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>", "\n"].map(String::from).to_vec();
    let mut types = vec![3, 3, 3, 3, 3, 4];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
    }
    let pieces = ["▁", "▁t", "▁th", "▁the", "h", "e", "t", "▁a", "in", "er", "▁in", "an", "on", "re", "▁c", "at", "en"];
    for p in pieces.iter().chain(&["o", "a", "n", "r", "i", "s", "c", "l"]) {
        if tokens.len() < vocab {
            tokens.push(p.to_string());
            types.push(1);
        }
    }
    while tokens.len() < vocab {
        tokens.push(format!("▁w{}", tokens.len()));
        types.push(1);
    }
    let scores: Vec<MetaValue> = (0..tokens.len()).map(|i| MetaValue::F32(-(i as f32))).collect();
    vec![
        ("tokenizer.ggml.model".to_string(), MetaValue::Str("llama".into())),
        ("tokenizer.ggml.pre".to_string(), MetaValue::Str("default".into())),
        ("tokenizer.ggml.tokens".to_string(), MetaValue::Array(tokens.into_iter().map(MetaValue::Str).collect())),
        ("tokenizer.ggml.scores".to_string(), MetaValue::Array(scores)),
        ("tokenizer.ggml.token_type".to_string(), MetaValue::Array(types.into_iter().map(MetaValue::I32).collect())),
        ("tokenizer.ggml.bos_token_id".to_string(), MetaValue::U32(2)),
        ("tokenizer.ggml.eos_token_id".to_string(), MetaValue::U32(1)),
        ("tokenizer.ggml.add_space_prefix".to_string(), MetaValue::Bool(false)),
    ]
}

/// The tiny models checked against llama.cpp's logits (tests/tests/llamacpp_tiny.rs), by
/// `s` with every weight F32.
pub fn with_f32_weights(s: TinySpec) -> TinySpec {
    TinySpec { attn_type: DType::F32, v_type: DType::F32, ffn_type: DType::F32, embd_type: DType::F32, out_type: DType::F32, ..s }
}

/// name: one per architecture, every weight F32, or with each spec's quantized types.
pub fn llamacpp_checked(quantized: bool) -> Vec<(String, TinySpec)> {
    let f32 = |s: TinySpec| if quantized { s } else { with_f32_weights(s) };
    let suffix = if quantized { "-q" } else { "" };
    [("llama", tiny_llama(11)), ("llama3", tiny_llama3(15)), ("qwen2", tiny_qwen2(12)), ("qwen3", tiny_qwen3(13)), ("gemma3", tiny_gemma3(14))]
        .into_iter()
        .map(|(n, s)| (format!("{n}{suffix}"), f32(s)))
        .collect()
}
