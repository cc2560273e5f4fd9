//! The OpenAI-compatible request and response shapes: parsing a request body into what the
//! engine needs, with an OpenAI-style error naming the field for anything wrong, and the JSON
//! of completions and streamed chunks.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cospec::decode::{Origin, SamplingParams};
use cospec::tokenizer::ChatMessage;
use serde_json::{json, Map, Value};

/// An error answered as OpenAI does: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// Seconds a client should wait before retrying (a full queue).
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), param: None, code: None, retry_after: None }
    }

    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    fn field(status: StatusCode, param: &str, message: impl Into<String>) -> ApiError {
        ApiError { param: Some(param.to_string()), ..ApiError::new(status, message) }
    }

    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    fn kind(&self) -> &'static str {
        match self.status {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::NOT_FOUND => "not_found_error",
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => "server_overloaded",
            s if s.is_server_error() => "server_error",
            _ => "invalid_request_error",
        }
    }

    pub fn body(&self) -> Value {
        json!({"error": {"message": self.message, "type": self.kind(), "param": self.param, "code": self.code}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

#[derive(Debug)]
pub enum Prompt {
    Chat(Vec<ChatMessage>),
    Text(String),
}

/// The extension object `"cospec": {"mode", "policy", "k"}`: each defaults to the server's.
#[derive(Default)]
pub struct SpecRequest {
    pub mode: Option<String>,
    pub policy: Option<String>,
    pub k: Option<usize>,
}

pub struct Parsed {
    pub model: Option<String>,
    pub prompt: Prompt,
    pub max_tokens: Option<usize>,
    pub sampling: SamplingParams,
    pub seeded: bool,
    pub stop: Vec<String>,
    pub stream: bool,
    pub include_usage: bool,
    pub spec: SpecRequest,
}

/// The most stop strings a request may give (OpenAI allows 4).
const MAX_STOPS: usize = 16;
/// The longest stop string, in bytes: streamed text is checked against every prefix of each,
/// so their length bounds the engine's work per token.
const MAX_STOP_BYTES: usize = 1024;

fn wrong_type(param: &str, want: &str) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, param, format!("'{param}' must be {want}"))
}

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.get(name).map(|v| v.as_bool().ok_or_else(|| wrong_type(name, "a boolean"))).transpose()
    }

    fn f64(&self, name: &str) -> Result<Option<f64>, ApiError> {
        self.get(name).map(|v| v.as_f64().ok_or_else(|| wrong_type(name, "a number"))).transpose()
    }

    fn count(&self, name: &str) -> Result<Option<usize>, ApiError> {
        self.get(name).map(|v| v.as_u64().map(|n| n.min(u32::MAX as u64) as usize).ok_or_else(|| wrong_type(name, "a non-negative integer"))).transpose()
    }

    fn str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        self.get(name).map(|v| v.as_str().ok_or_else(|| wrong_type(name, "a string"))).transpose()
    }
}

fn out_of_range(param: &str, what: &str) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, param, format!("'{param}' {what}"))
}

/// Parses a `/v1/chat/completions` (`chat`) or `/v1/completions` body.
pub fn parse(body: &[u8], chat: bool) -> Result<Parsed, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::bad(format!("the request body is not UTF-8: {e}")))?;
    let value: Value = serde_json::from_str(text).map_err(|e| ApiError::bad(format!("the request body is not valid JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "the request body must be a JSON object"));
    };
    let f = Fields(obj);
    let prompt = if chat { Prompt::Chat(messages(f.get("messages"))?) } else { Prompt::Text(prompt_text(f.get("prompt"))?) };
    let max_tokens = match f.count("max_completion_tokens")? {
        Some(n) => Some(n),
        None => f.count("max_tokens")?,
    };
    if max_tokens == Some(0) {
        return Err(out_of_range("max_tokens", "must be at least 1"));
    }
    if let Some(n) = f.count("n")? {
        if n != 1 {
            return Err(out_of_range("n", "must be 1: one choice per request"));
        }
    }
    // Chat asks with a boolean, text completions with a count.
    let logprobs = if chat { f.bool("logprobs")? == Some(true) } else { f.get("logprobs").is_some() };
    if logprobs || f.get("top_logprobs").is_some() {
        return Err(ApiError::field(StatusCode::BAD_REQUEST, "logprobs", "logprobs are not supported"));
    }
    if !chat && f.get("suffix").is_some() {
        return Err(ApiError::field(StatusCode::BAD_REQUEST, "suffix", "'suffix' is not supported"));
    }
    let temperature = f.f64("temperature")?.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(out_of_range("temperature", "must be between 0 and 2"));
    }
    let top_p = f.f64("top_p")?.unwrap_or(1.0);
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(out_of_range("top_p", "must be in (0, 1]"));
    }
    let top_k = f.count("top_k")?.unwrap_or(0);
    let seed = match f.get("seed") {
        None => None,
        Some(v) => Some(v.as_i64().map(|s| s as u64).or_else(|| v.as_u64()).ok_or_else(|| wrong_type("seed", "an integer"))?),
    };
    let stop = match f.get("stop") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => {
            if items.len() > MAX_STOPS {
                return Err(out_of_range("stop", &format!("may hold at most {MAX_STOPS} strings")));
            }
            items.iter().map(|s| s.as_str().map(str::to_string).ok_or_else(|| wrong_type("stop", "a string or an array of strings"))).collect::<Result<_, _>>()?
        }
        Some(_) => return Err(wrong_type("stop", "a string or an array of strings")),
    };
    if stop.iter().any(|s: &String| s.len() > MAX_STOP_BYTES) {
        return Err(out_of_range("stop", &format!("strings may be at most {MAX_STOP_BYTES} bytes")));
    }
    let stream = f.bool("stream")?.unwrap_or(false);
    let include_usage = match f.get("stream_options") {
        None => false,
        Some(Value::Object(o)) => Fields(o).bool("include_usage")?.unwrap_or(false),
        Some(_) => return Err(wrong_type("stream_options", "an object")),
    };
    let spec = match f.get("cospec") {
        None => SpecRequest::default(),
        Some(Value::Object(o)) => {
            let c = Fields(o);
            SpecRequest { mode: c.str("mode")?.map(str::to_string), policy: c.str("policy")?.map(str::to_string), k: c.count("k")? }
        }
        Some(_) => return Err(wrong_type("cospec", "an object: {\"mode\", \"policy\", \"k\"}")),
    };
    Ok(Parsed {
        model: f.str("model")?.map(str::to_string),
        prompt,
        max_tokens,
        sampling: SamplingParams { temperature: temperature as f32, top_k: top_k as u32, top_p: top_p as f32, seed: seed.unwrap_or(0) },
        seeded: seed.is_some(),
        stop,
        stream,
        include_usage,
        spec,
    })
}

const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

fn messages(v: Option<&Value>) -> Result<Vec<ChatMessage>, ApiError> {
    let Some(v) = v else {
        return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "messages", "'messages' is required"));
    };
    let items = v.as_array().ok_or_else(|| wrong_type("messages", "an array of messages"))?;
    if items.is_empty() {
        return Err(out_of_range("messages", "must hold at least one message"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let param = format!("messages[{i}]");
            let o = m.as_object().ok_or_else(|| wrong_type(&param, "an object"))?;
            let f = Fields(o);
            let role = f.str("role")?.ok_or_else(|| ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, &param, format!("'{param}.role' is required")))?;
            if !ROLES.contains(&role) {
                return Err(out_of_range(&format!("{param}.role"), &format!("must be one of {}", ROLES.join(", "))));
            }
            // The developer role is the system role of newer OpenAI models.
            let role = if role == "developer" { "system" } else { role };
            let content = match f.get("content") {
                None => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => {
                    let mut text = String::new();
                    for p in parts {
                        match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
                            (Some("text"), Some(t)) => text.push_str(t),
                            _ => return Err(out_of_range(&format!("{param}.content"), "parts must be {\"type\": \"text\", \"text\": ...}: this server reads text only")),
                        }
                    }
                    text
                }
                Some(_) => return Err(wrong_type(&format!("{param}.content"), "a string or an array of text parts")),
            };
            Ok(ChatMessage::new(role, &content))
        })
        .collect()
}

fn prompt_text(v: Option<&Value>) -> Result<String, ApiError> {
    match v {
        None => Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "prompt", "'prompt' is required")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(a)) if a.len() == 1 && a[0].is_string() => Ok(a[0].as_str().unwrap_or_default().to_string()),
        Some(Value::Array(_)) => Err(out_of_range("prompt", "must be one string: one prompt per request")),
        Some(_) => Err(wrong_type("prompt", "a string")),
    }
}

fn origin_names(origins: &[Origin]) -> Vec<Value> {
    origins.iter().map(|o| serde_json::to_value(o).unwrap_or(Value::Null)).collect()
}

pub fn usage(prompt_tokens: usize, completion_tokens: usize, cached_tokens: usize) -> Value {
    json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens,
           "prompt_tokens_details": {"cached_tokens": cached_tokens}})
}

/// Identity of one response: what every chunk of it repeats.
pub struct Meta {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub chat: bool,
}

impl Meta {
    fn object(&self, chunk: bool) -> &'static str {
        match (self.chat, chunk) {
            (true, false) => "chat.completion",
            (true, true) => "chat.completion.chunk",
            (false, _) => "text_completion",
        }
    }

    /// The whole answer of a request without streaming.
    pub fn completion(&self, text: &str, reason: &str, usage: Value, origins: &[Origin]) -> Value {
        let choice = if self.chat {
            json!({"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": reason})
        } else {
            json!({"index": 0, "text": text, "logprobs": null, "finish_reason": reason})
        };
        json!({"id": self.id, "object": self.object(false), "created": self.created, "model": self.model,
               "choices": [choice], "usage": usage, "cospec": {"origins": origin_names(origins)}})
    }

    /// One streamed chunk: text (and, for chat, the role on the first) or the finish reason.
    pub fn chunk(&self, text: Option<&str>, first: bool, reason: Option<&str>, origins: &[Origin]) -> Value {
        let choice = if self.chat {
            let mut delta = Map::new();
            if first {
                delta.insert("role".into(), "assistant".into());
            }
            if let Some(t) = text {
                delta.insert("content".into(), t.into());
            }
            json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": reason})
        } else {
            json!({"index": 0, "text": text.unwrap_or(""), "logprobs": null, "finish_reason": reason})
        };
        let mut v = json!({"id": self.id, "object": self.object(true), "created": self.created, "model": self.model, "choices": [choice]});
        if !origins.is_empty() {
            v["cospec"] = json!({"origins": origin_names(origins)});
        }
        v
    }

    /// The closing usage chunk of `stream_options.include_usage`: no choices.
    pub fn usage_chunk(&self, usage: Value) -> Value {
        json!({"id": self.id, "object": self.object(true), "created": self.created, "model": self.model, "choices": [], "usage": usage})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(body: &str, chat: bool) -> StatusCode {
        match parse(body.as_bytes(), chat) {
            Ok(_) => StatusCode::OK,
            Err(e) => e.status,
        }
    }

    #[test]
    fn a_chat_request_with_parts_and_extensions_parses() {
        let p = parse(
            br#"{"model":"m","messages":[{"role":"developer","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}],
                "max_completion_tokens":5,"max_tokens":9,"temperature":0,"seed":-3,"stop":["a","b"],"stream":true,
                "stream_options":{"include_usage":true},"cospec":{"mode":"spd","k":2},"frequency_penalty":0}"#,
            true,
        )
        .unwrap();
        let Prompt::Chat(m) = &p.prompt else { panic!("a chat") };
        assert_eq!((m[0].role.as_str(), m[1].content.as_str()), ("system", "hi"));
        assert_eq!(p.max_tokens, Some(5));
        assert!(p.sampling.is_greedy() && p.seeded && p.stream && p.include_usage);
        assert_eq!(p.stop, ["a", "b"]);
        assert_eq!((p.spec.mode.as_deref(), p.spec.k), (Some("spd"), Some(2)));
    }

    /// Request bodies from clients are hostile input: seeded mutations of valid bodies
    /// (cospec_tests::fuzz::mutate) never panic the parser, and each answer is a body or an
    /// error with a message.
    #[test]
    fn mutated_bodies_never_panic_the_parser() {
        use rand::SeedableRng;
        let seeds: Vec<Vec<u8>> = [
            r#"{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":5,"temperature":0.7,"top_p":0.9,"top_k":40,"seed":3,"stop":["a","\n\n"],"stream":true,"stream_options":{"include_usage":true},"cospec":{"mode":"cospec","policy":"cosd","k":4}}"#,
            r#"{"prompt":["The capital of France is"],"max_completion_tokens":9,"n":1,"logprobs":null,"stop":"x","seed":-1}"#,
            r#"{"messages":[{"role":"assistant","content":null},{"role":"tool","content":"é😀"}]}"#,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5e7e);
        let mut rejected = 0;
        for i in 0..50_000 {
            let input = cospec_tests::fuzz::mutate(&mut rng, &seeds[i % seeds.len()], &seeds[(i + 1) % seeds.len()]);
            for chat in [true, false] {
                if let Err(e) = parse(&input, chat) {
                    assert!(!e.message.is_empty());
                    rejected += 1;
                }
            }
        }
        assert!(rejected > 10_000, "mutations should mostly break the bodies: {rejected} rejected");
    }

    #[test]
    fn bad_bodies_get_their_status() {
        assert_eq!(status("{", true), StatusCode::BAD_REQUEST);
        assert_eq!(status("[1]", true), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status(r#"{"model":"m"}"#, true), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status(r#"{"messages":"hi"}"#, true), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status(r#"{"messages":[]}"#, true), StatusCode::BAD_REQUEST);
        assert_eq!(status(r#"{"messages":[{"role":"wizard","content":"x"}]}"#, true), StatusCode::BAD_REQUEST);
        assert_eq!(status(r#"{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#, true), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status(r#"{"messages":[{"role":"user","content":"x"}],"temperature":3}"#, true), StatusCode::BAD_REQUEST);
        assert_eq!(status(r#"{"messages":[{"role":"user","content":"x"}],"n":2}"#, true), StatusCode::BAD_REQUEST);
        assert_eq!(status(r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":-1}"#, true), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status(r#"{"messages":[{"role":"user","content":"x"}],"stop":[1]}"#, true), StatusCode::UNPROCESSABLE_ENTITY);
        let long_stop = format!(r#"{{"prompt":"x","stop":["{}"]}}"#, "a".repeat(1025));
        assert_eq!(status(&long_stop, false), StatusCode::BAD_REQUEST);
        assert_eq!(status(r#"{"prompt":["a","b"]}"#, false), StatusCode::BAD_REQUEST);
        assert_eq!(status(r#"{"prompt":"a","logprobs":1}"#, false), StatusCode::BAD_REQUEST);
        assert_eq!(status("\"x\"", false), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(matches!(parse(&[b'"', 0xff, b'"'], false), Err(e) if e.status == StatusCode::BAD_REQUEST));
    }
}
