//! Rendering a model's chat template. A template comes from the model file, so it is code
//! from wherever the file came from: rendering is bounded in steps (minijinja's fuel) and in
//! output bytes, so a hostile template fails with an error instead of hanging or filling
//! memory through its output. What neither bounds (a string doubled in a loop: minijinja's
//! concatenation has no limit) a front end bounds by rendering a file's template in a process
//! of its own under a memory limit (`isolate_file_templates`; the native CLI and server do).

use crate::tokenizer::{ChatMessage, TokenizerError};
use std::io::Write;
use std::sync::OnceLock;

/// Everything one rendering reads, so that it can be carried to another process.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RenderJob {
    pub source: String,
    pub messages: Vec<ChatMessage>,
    pub add_generation_prompt: bool,
    pub bos: String,
    pub eos: String,
}

impl RenderJob {
    /// Renders in this process (bounded in steps and output only).
    pub fn render_here(&self) -> Result<String, TokenizerError> {
        render(&self.source, &self.messages, self.add_generation_prompt, &self.bos, &self.eos)
    }
}

/// Renders a job somewhere its memory is bounded, or says why it could not.
pub type IsolatedRenderer = fn(&RenderJob) -> Result<String, TokenizerError>;

static ISOLATED: OnceLock<IsolatedRenderer> = OnceLock::new();

/// From now on, templates that came from model files go through `renderer` (set once per
/// process; a later call changes nothing). The built-in fallback templates stay in-process.
pub fn isolate_file_templates(renderer: IsolatedRenderer) {
    let _ = ISOLATED.set(renderer);
}

/// Renders a template that came from a model file: through the isolated renderer when the
/// front end installed one, here otherwise.
pub fn render_file_template(job: &RenderJob) -> Result<String, TokenizerError> {
    match ISOLATED.get() {
        Some(renderer) => renderer(job),
        None => job.render_here(),
    }
}

/// Template instructions one rendering may run. Real templates take a few hundred per
/// message (Qwen2.5's tool template: about 120), so this allows conversations of thousands
/// of messages and stops a runaway loop within a second.
pub const FUEL: u64 = 2_000_000;

/// Output bytes one rendering may write beyond the messages' own text (markup per message).
pub const OUTPUT_SLACK: usize = 1 << 20;

/// Renders `source` over `messages`.
pub fn render(source: &str, messages: &[ChatMessage], add_generation_prompt: bool, bos: &str, eos: &str) -> Result<String, TokenizerError> {
    let mut env = minijinja::Environment::new();
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_fuel(Some(FUEL));
    env.add_function("raise_exception", |msg: String| -> Result<String, minijinja::Error> {
        Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
    });
    env.add_template("chat", source).map_err(|e| TokenizerError::Template(e.to_string()))?;
    let tmpl = env.get_template("chat").map_err(|e| TokenizerError::Template(e.to_string()))?;
    // A template may repeat the messages (a system prompt into every turn, say), so the
    // bound scales with them.
    let limit = 4 * messages.iter().map(|m| m.content.len() + m.role.len()).sum::<usize>() + OUTPUT_SLACK;
    let mut out = Bounded { bytes: Vec::new(), limit };
    let ctx = minijinja::context! {
        messages => messages,
        add_generation_prompt => add_generation_prompt,
        bos_token => bos,
        eos_token => eos,
    };
    let rendered = tmpl.render_captured_to(ctx, &mut out).map(drop);
    match rendered {
        Ok(_) => String::from_utf8(out.bytes).map_err(|e| TokenizerError::Template(format!("output is not UTF-8: {e}"))),
        Err(_) if out.bytes.len() >= limit => Err(TokenizerError::Template(format!("output passed {limit} bytes: the template is not a chat template"))),
        Err(e) if e.kind() == minijinja::ErrorKind::OutOfFuel => {
            Err(TokenizerError::Template(format!("rendering ran {FUEL} instructions without finishing: the template loops")))
        }
        Err(e) => Err(TokenizerError::Template(e.to_string())),
    }
}

/// A writer that refuses to grow past `limit` bytes.
struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            self.bytes.resize(self.limit, 0);
            return Err(std::io::Error::other("chat template output too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
