//! Plain autoregressive generation: prompt in blocks, then one token per pass, each chosen on
//! the GPU (argmax or sample) and read back as 4 bytes.

use crate::model::{Model, ModelError};
use crate::tokenizer::{TextStream, Tokenizer};
use crate::ops::sample::SamplingParams;
use web_time::Instant;

#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    pub stop_at_eos: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions { max_tokens: 128, sampling: SamplingParams::default(), stop_at_eos: true }
    }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// Time to process the prompt and choose the first token.
    pub prompt_secs: f64,
    /// Time for the remaining tokens.
    pub decode_secs: f64,
    pub stopped_at_eos: bool,
}

impl GenerationStats {
    pub fn prompt_tok_per_s(&self) -> f64 {
        self.prompt_tokens as f64 / self.prompt_secs.max(1e-9)
    }
    /// Decode speed over the tokens after the first.
    pub fn decode_tok_per_s(&self) -> f64 {
        self.generated_tokens.saturating_sub(1) as f64 / self.decode_secs.max(1e-9)
    }
}

pub struct GenerationOutput {
    pub tokens: Vec<u32>,
    pub text: String,
    pub stats: GenerationStats,
}

/// Generates after `prompt` (the cache is cleared first), calling `on_text` with each piece.
pub async fn generate(
    model: &mut Model,
    tok: &Tokenizer,
    prompt: &[u32],
    opts: &GenerateOptions,
    on_text: &mut dyn FnMut(&str),
) -> Result<GenerationOutput, ModelError> {
    if prompt.is_empty() {
        return Err(ModelError::Invalid("the prompt is empty".into()));
    }
    if prompt.len() >= model.ctx_len() {
        return Err(ModelError::ContextFull { have: 0, adding: prompt.len(), ctx: model.ctx_len() });
    }
    model.truncate(0);
    let mut stats = GenerationStats { prompt_tokens: prompt.len(), ..Default::default() };
    let mut stream = TextStream::new();
    let mut text = String::new();
    let mut out = Vec::new();
    let t0 = Instant::now();
    let mut next = model.forward_next(prompt, &opts.sampling).await?;
    stats.prompt_secs = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let budget = opts.max_tokens.min(model.ctx_len() - prompt.len());
    while out.len() < budget {
        out.push(next);
        if opts.stop_at_eos && tok.is_eos(next) {
            stats.stopped_at_eos = true;
            break;
        }
        let piece = stream.push(tok, next).map_err(|e| ModelError::Invalid(e.to_string()))?;
        if !piece.is_empty() {
            on_text(&piece);
            text.push_str(&piece);
        }
        if out.len() == budget {
            break;
        }
        next = model.forward_next(&[next], &opts.sampling).await?;
    }
    let rest = stream.finish(tok).map_err(|e| ModelError::Invalid(e.to_string()))?;
    if !rest.is_empty() {
        on_text(&rest);
        text.push_str(&rest);
    }
    stats.decode_secs = t1.elapsed().as_secs_f64();
    stats.generated_tokens = out.len();
    Ok(GenerationOutput { tokens: out, text, stats })
}
