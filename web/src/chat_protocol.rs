//! What the page and the worker exchange, as JSON: chat settings in, step reports out. Kept
//! free of browser types so the rules are checked natively.

use cospec::decode::arbiter::{Mlp, Policy, PolicyThresholds};
use cospec::decode::speculative::{Mode, Origin, SpecOptions, SpecStats};
use cospec::ops::sample::SamplingParams;
use cospec::tokenizer::{ChatMessage, Tokenizer};
use serde::{Deserialize, Serialize};

/// The committed learned arbiter (fitted to branch rollouts of the Qwen2.5-Coder pair; its 14
/// features are the same for any pair), built into the page: the `learned` policy runs it.
pub const COMMITTED_ARBITER: &[u8] = include_bytes!("../../engine/arbiters/qwen-coder.safetensors");

/// Longest draft the page offers; the session is built for it.
pub const MAX_K: usize = 8;
/// Tokens the page may ask for in one reply.
pub const MAX_REPLY_TOKENS: usize = 2048;

/// The settings panel.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatSettings {
    /// target-only, draft-only, spd or cospec.
    pub mode: String,
    /// The arbiter rule in cospec mode (entropy, cosd, chow, diff, opt, draft, target, or
    /// learned: the committed arbiter).
    #[serde(default = "default_policy")]
    pub policy: String,
    #[serde(default = "default_k")]
    pub k: usize,
    #[serde(default)]
    pub temperature: f32,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// Render the conversation with the model's chat template; otherwise continue the last
    /// message's text as is.
    #[serde(default = "yes")]
    pub chat: bool,
}

fn default_policy() -> String {
    "entropy".into()
}
fn default_k() -> usize {
    4
}
fn default_max_tokens() -> usize {
    256
}
fn yes() -> bool {
    true
}

/// Parses and checks the settings JSON, naming what is wrong.
pub fn parse_settings(json: &str) -> Result<(ChatSettings, SpecOptions), String> {
    let s: ChatSettings = serde_json::from_str(json).map_err(|e| format!("settings: {e}"))?;
    let mode = Mode::from_name(&s.mode).ok_or_else(|| format!("unknown mode '{}' ({})", s.mode, Mode::NAMES.join(", ")))?;
    if !(1..=MAX_K).contains(&s.k) {
        return Err(format!("k = {} out of range 1..={MAX_K}", s.k));
    }
    if !(0.0..=5.0).contains(&s.temperature) {
        return Err(format!("temperature {} out of range 0..=5", s.temperature));
    }
    if !(1..=MAX_REPLY_TOKENS).contains(&s.max_tokens) {
        return Err(format!("max tokens {} out of range 1..={MAX_REPLY_TOKENS}", s.max_tokens));
    }
    let mlp = if s.policy == "learned" {
        Some(std::sync::Arc::new(Mlp::from_safetensors(COMMITTED_ARBITER).map_err(|e| format!("the built-in arbiter: {e}"))?))
    } else {
        None
    };
    let policy = Policy::from_name(&s.policy, &PolicyThresholds::default(), mlp).map_err(|e| e.to_string())?;
    let opts = SpecOptions {
        mode,
        k: s.k,
        policy,
        sampling: SamplingParams { temperature: s.temperature, top_k: 0, top_p: 1.0, seed: s.seed },
        max_tokens: s.max_tokens,
        stop_at_eos: true,
    };
    Ok((s, opts))
}

/// The text to tokenize: the conversation through the chat template, or the last message
/// as plain text to continue.
pub fn prompt_text(tok: &Tokenizer, messages_json: &str, chat: bool) -> Result<String, String> {
    let messages: Vec<ChatMessage> = serde_json::from_str(messages_json).map_err(|e| format!("messages: {e}"))?;
    let last = messages.last().ok_or("the conversation is empty")?;
    if !chat {
        return Ok(last.content.clone());
    }
    if !tok.has_chat_template() {
        return Err("this model has no chat template: switch off 'chat template' to continue text instead".into());
    }
    tok.apply_chat_template(&messages, true).map_err(|e| e.to_string())
}

/// What the page shows after each step.
#[derive(Debug, Serialize)]
pub struct StepReport {
    /// Text pieces with the origin of the token that completed each.
    pub pieces: Vec<(String, Origin)>,
    pub stats: StatsView,
    pub done: bool,
}

/// The statistics panel.
#[derive(Debug, Serialize)]
pub struct StatsView {
    pub mode: String,
    pub policy: String,
    pub k: usize,
    pub prompt_tokens: usize,
    pub generated: usize,
    pub prompt_secs: f64,
    pub decode_secs: f64,
    pub tok_per_s: f64,
    pub tokens_per_pass: f64,
    pub target_passes: usize,
    pub mismatches: usize,
    pub keeps: usize,
    pub keep_share: f64,
    pub draft_accepted: usize,
    pub draft_kept: usize,
    pub target: usize,
    pub bonus: usize,
    pub draft: usize,
    pub stopped_at_eos: bool,
    /// The models' context in tokens, and whether the conversation has filled it (the reply
    /// stopped there rather than at an end token or the reply limit).
    pub ctx_len: usize,
    pub context_full: bool,
}

/// Why a conversation cannot be sent: it does not leave room for one reply token.
pub fn context_refusal(prompt_tokens: usize, ctx_len: usize) -> Option<String> {
    (prompt_tokens >= ctx_len).then(|| {
        format!(
            "This conversation is {prompt_tokens} tokens, and the models' context holds {ctx_len}: start a new chat, or shorten your message."
        )
    })
}

impl StatsView {
    /// `generated` counts committed tokens so far (the engine fills its own count at the end).
    pub fn of(s: &SpecStats, generated: usize, ctx_len: usize) -> StatsView {
        let mut s = s.clone();
        s.generated_tokens = generated;
        StatsView {
            mode: s.mode.clone(),
            policy: s.policy.clone(),
            k: s.k,
            prompt_tokens: s.prompt_tokens,
            generated,
            prompt_secs: s.prompt_secs,
            decode_secs: s.decode_secs,
            tok_per_s: s.tok_per_s(),
            tokens_per_pass: s.tokens_per_target_pass(),
            target_passes: s.target_passes,
            mismatches: s.mismatches,
            keeps: s.keeps,
            keep_share: s.keep_share(),
            draft_accepted: s.origins.draft_accepted,
            draft_kept: s.origins.draft_kept,
            target: s.origins.target,
            bonus: s.origins.bonus,
            draft: s.origins.draft,
            stopped_at_eos: s.stopped_at_eos,
            ctx_len,
            context_full: !s.stopped_at_eos && s.prompt_tokens + generated >= ctx_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_that_fills_the_context_is_refused_or_reported() {
        assert_eq!(context_refusal(63, 64), None);
        let e = context_refusal(64, 64).unwrap();
        assert!(e.contains("64 tokens") && e.contains("holds 64") && e.contains("new chat"), "{e}");
        let stats = |prompt, eos| SpecStats { prompt_tokens: prompt, stopped_at_eos: eos, ..Default::default() };
        assert!(StatsView::of(&stats(60, false), 4, 64).context_full);
        assert!(!StatsView::of(&stats(60, false), 3, 64).context_full);
        assert!(!StatsView::of(&stats(60, true), 4, 64).context_full);
    }

    #[test]
    fn settings_defaults_and_errors() {
        let (s, o) = parse_settings(r#"{"mode": "cospec"}"#).unwrap();
        assert_eq!((s.k, s.max_tokens, s.chat, o.policy.name()), (4, 256, true, "entropy"));
        assert_eq!(o.mode, Mode::Cospec);
        // The learned policy runs the built-in arbiter.
        let (_, o) = parse_settings(r#"{"mode": "cospec", "policy": "learned"}"#).unwrap();
        assert!(o.policy.mlp().is_some_and(|m| m.hidden() > 0), "{:?}", o.policy.name());
        for (bad, says) in [
            (r#"{"mode": "fast"}"#, "unknown mode"),
            (r#"{"mode": "spd", "k": 0}"#, "k = 0"),
            (r#"{"mode": "spd", "k": 9}"#, "k = 9"),
            (r#"{"mode": "spd", "policy": "magic"}"#, "unknown policy"),
            (r#"{"mode": "spd", "temperature": -1}"#, "temperature"),
            (r#"{"mode": "spd", "max_tokens": 0}"#, "max tokens"),
            (r#"{"mode": "spd", "colour": 1}"#, "unknown field"),
            ("not json", "settings"),
        ] {
            let e = parse_settings(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn step_report_names_origins_in_kebab_case() {
        let r = StepReport { pieces: vec![("a".into(), Origin::DraftKept)], stats: StatsView::of(&SpecStats::default(), 1, 64), done: false };
        let j = serde_json::to_string(&r).unwrap();
        assert!(j.contains(r#"["a","draft-kept"]"#), "{j}");
    }
}
