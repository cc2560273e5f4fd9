//! Math word problems from scripts/fetch_problems.py (JSON lines, one problem each), their
//! split by template id, and the one prompt format used for every model and mode.

use cospec::tokenizer::{ChatMessage, Tokenizer, TokenizerError};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    pub template: u32,
    /// 0: the template's original GSM8K question; 1..: generated numeric variants.
    pub variant: u32,
    pub split: String,
    pub question: String,
    /// The final number.
    pub answer: String,
}

impl Problem {
    /// A stable key for records and resumption.
    pub fn key(&self) -> String {
        format!("t{}v{}", self.template, self.variant)
    }
}

/// The multilingual-gsm-symbolic English instruction, then a blank line and the question, sent
/// as the user turn of the model's chat template.
pub const INSTRUCTION: &str = "Solve the following math problem step by step. Put your final numeric answer (without units, currency symbols, or percentage signs) in \\boxed{}, for example: \\boxed{42}.";

pub fn prompt_text(tok: &Tokenizer, p: &Problem) -> Result<String, TokenizerError> {
    tok.apply_chat_template(&[ChatMessage::new("user", &format!("{INSTRUCTION}\n\n{}", p.question))], true)
}

/// The split a template belongs to (MODELS.md): train 0..59, dev 60..79, test 80..99.
pub fn split_of(template: u32) -> &'static str {
    match template {
        0..=59 => "train",
        60..=79 => "dev",
        _ => "test",
    }
}

/// Parses the JSON lines; a problem whose split disagrees with its template id is refused, so
/// a mislabelled file cannot leak reserved templates into training.
pub fn parse(text: &str) -> Result<Vec<Problem>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let p: Problem = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        if p.split != split_of(p.template) {
            return Err(format!("line {}: template {} is in the {} split, not {:?}", i + 1, p.template, split_of(p.template), p.split));
        }
        out.push(p);
    }
    Ok(out)
}

/// The problems of a split ("train", "dev" or "test"), originals first then variants, in
/// template order; `limit` keeps the first N of that order.
pub fn select(all: &[Problem], split: &str, limit: Option<usize>) -> Vec<Problem> {
    let mut v: Vec<Problem> = all.iter().filter(|p| p.split == split).cloned().collect();
    v.sort_by_key(|p| (p.variant, p.template));
    if let Some(n) = limit {
        v.truncate(n);
    }
    v
}
