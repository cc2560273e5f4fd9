//! `cospec serve`: an OpenAI-compatible HTTP server over the engine. The HTTP side (axum on
//! tokio) parses and checks requests and streams answers; one engine thread owns the models
//! and decodes every admitted request side by side (worker.rs). They meet in a bounded queue:
//! a request that finds it full is answered 503 with Retry-After at once.

use cospec_cli::serve_api as api;
mod metrics;
mod sample;
use cospec_cli::serve_stop as stop;
mod worker;

use crate::commands::{gpu, load, open};
use crate::speculative::{open_pair, ArbiterArgs};
use anyhow::{bail, Context, Result};
use api::{ApiError, Meta, Parsed, Prompt};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cospec::decode::Mode;
use cospec::gpu::GpuOptions;
use cospec::model::LoadOptions;
use cospec::tokenizer::Tokenizer;
use futures_util::StreamExt;
pub use metrics::Metrics;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::mpsc;
use worker::{Engine, Event, GenRequest, Job, Layout, SpecChoice, Worker};

#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// The model that answers: a GGUF file or an HF folder
    #[arg(long, visible_alias = "model")]
    target: PathBuf,
    /// A draft model on the target's tokenizer: speculative decoding (requests choose the mode)
    #[arg(long)]
    draft: Option<PathBuf>,
    /// Address to listen on (loopback unless told otherwise)
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Require `Authorization: Bearer KEY` on every /v1 request and /metrics
    #[arg(long, env = "COSPEC_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Target-only generations decoded side by side (each holds a cache region of --ctx tokens)
    #[arg(long, default_value_t = 4)]
    lanes: usize,
    /// Tokens per generation: prompt plus completion
    #[arg(long, default_value_t = 2048)]
    ctx: usize,
    /// Requests that may wait for a lane; beyond that, 503 with Retry-After
    #[arg(long, default_value_t = 32)]
    queue: usize,
    /// The model's name in the API (default: the target's file name)
    #[arg(long)]
    alias: Option<String>,
    /// Default decoding mode: target-only, draft-only, spd or cospec (default: spd with a
    /// draft, else target-only); a request may choose another with `"cospec": {"mode": ...}`
    #[arg(long)]
    mode: Option<String>,
    /// Default draft tokens per step; requests may ask for 1..=16
    #[arg(short = 'k', long = "k", default_value_t = 4)]
    k: usize,
    #[command(flatten)]
    arbiter: ArbiterArgs,
    /// Largest request body in bytes
    #[arg(long, default_value_t = 4 << 20)]
    max_body: usize,
}

/// The most draft tokens a request may ask for (the verify kernels are built for it).
const MAX_K: usize = 16;

struct AppState {
    queue: mpsc::Sender<Job>,
    tok: Arc<Tokenizer>,
    model_id: String,
    api_key: Option<String>,
    region: usize,
    pair: bool,
    default_mode: Mode,
    default_k: usize,
    arbiter: ArbiterArgs,
    metrics: Arc<Metrics>,
    lanes: usize,
    next_id: AtomicU64,
}

pub fn serve(gpu_opts: &GpuOptions, a: &ServeArgs) -> Result<()> {
    if a.lanes == 0 || a.lanes > 64 {
        bail!("--lanes {} out of range 1..=64", a.lanes);
    }
    if a.ctx < 16 {
        bail!("--ctx {} is too small to hold a prompt and an answer", a.ctx);
    }
    if !(1..=MAX_K).contains(&a.k) {
        bail!("-k {} out of range 1..={MAX_K}", a.k);
    }
    let default_mode = match &a.mode {
        None if a.draft.is_some() => Mode::Spd,
        None => Mode::TargetOnly,
        Some(m) => Mode::from_name(m).with_context(|| format!("unknown mode {m:?} ({})", Mode::NAMES.join(", ")))?,
    };
    if default_mode != Mode::TargetOnly && a.draft.is_none() {
        bail!("--mode {} needs a --draft model", default_mode.name());
    }
    // The default policy must exist before the server says it is ready.
    a.arbiter.policy(&a.arbiter.policy)?;
    let layout = Layout::new(a.lanes, a.ctx, a.draft.is_some());
    let ctx_len = layout.ctx_len();
    let (engine, tok) = match &a.draft {
        Some(draft) => {
            let (session, tok) = open_pair(gpu_opts, draft, &a.target, ctx_len, MAX_K, a.lanes)?;
            (Engine::Pair(session), tok)
        }
        None => {
            let file = open(&a.target)?;
            let tok = Tokenizer::from_model_file(&file)?;
            let model = load(gpu(gpu_opts)?, &file, &LoadOptions { ctx_len, max_block: 32.max(a.lanes), ..Default::default() })?;
            (Engine::Single(model), tok)
        }
    };
    let tok = Arc::new(tok);
    let metrics = Arc::new(Metrics::default());
    let (queue, jobs) = mpsc::channel(a.queue.max(1));
    let shutting_down = Arc::new(AtomicBool::new(false));
    let worker = Worker::new(engine, tok.clone(), layout, metrics.clone(), shutting_down.clone());
    let engine_thread = std::thread::Builder::new().name("cospec engine".into()).spawn(move || worker.run(jobs))?;
    let model_id = a.alias.clone().unwrap_or_else(|| {
        let name = a.target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
        name.strip_suffix(".gguf").map(str::to_string).unwrap_or(name)
    });
    let state = Arc::new(AppState {
        queue,
        tok,
        model_id,
        api_key: a.api_key.clone(),
        region: a.ctx,
        pair: a.draft.is_some(),
        default_mode,
        default_k: a.k,
        arbiter: a.arbiter.clone(),
        metrics,
        lanes: a.lanes + usize::from(a.draft.is_some()),
        next_id: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .method_not_allowed_fallback(|| async { ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not take that method") })
        .layer(DefaultBodyLimit::max(a.max_body))
        .with_state(state.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((a.host.as_str(), a.port)).await.with_context(|| format!("listening on {}:{}", a.host, a.port))?;
        let addr = listener.local_addr()?;
        // One line a script can wait for.
        eprintln!("cospec serve: listening on http://{addr} (model \"{}\", {} lanes of {} tokens)", state.model_id, a.lanes, a.ctx);
        let stop = shutting_down.clone();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                eprintln!("cospec serve: shutting down");
                stop.store(true, Relaxed);
            })
            .await?;
        anyhow::Ok(())
    })?;
    drop(state);
    engine_thread.join().map_err(|_| anyhow::anyhow!("the engine thread panicked"))?;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("installing the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn authorize(s: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(key) = &s.api_key else { return Ok(()) };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if given != Some(key.as_str()) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong API key: send 'Authorization: Bearer KEY'").with_code("invalid_api_key"));
    }
    Ok(())
}

async fn metrics_text(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&s, &headers) {
        return e.into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render(s.lanes)).into_response()
}

async fn models(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&s, &headers) {
        return e.into_response();
    }
    Json(json!({"object": "list", "data": [{"id": s.model_id, "object": "model", "created": 0, "owned_by": "cospec"}]})).into_response()
}

async fn chat_completions(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    generate(s, headers, body, true).await.unwrap_or_else(IntoResponse::into_response)
}

async fn completions(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    generate(s, headers, body, false).await.unwrap_or_else(IntoResponse::into_response)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Turns a parsed request into the engine's: prompt tokens, budget, sampling and mode.
fn engine_request(s: &AppState, p: Parsed) -> Result<GenRequest, ApiError> {
    let text = match p.prompt {
        Prompt::Chat(messages) => s.tok.apply_chat_template(&messages, true).map_err(|e| ApiError::bad(format!("the chat template failed: {e}")))?,
        Prompt::Text(t) => t,
    };
    let prompt = s.tok.encode(&text).map_err(|e| ApiError::bad(format!("tokenizing the prompt: {e}")))?;
    if prompt.is_empty() {
        return Err(ApiError::bad("the prompt is empty"));
    }
    let too_long = |n: usize| {
        ApiError::bad(format!("the prompt ({} tokens) and max_tokens ({n}) exceed this server's context of {} tokens", prompt.len(), s.region))
            .with_code("context_length_exceeded")
    };
    if prompt.len() >= s.region {
        return Err(too_long(1));
    }
    let max_tokens = match p.max_tokens {
        Some(n) if prompt.len() + n > s.region => return Err(too_long(n)),
        Some(n) => n,
        None => s.region - prompt.len(),
    };
    let mode = match &p.spec.mode {
        None => s.default_mode,
        Some(m) => Mode::from_name(m).ok_or_else(|| ApiError::bad(format!("unknown cospec.mode {m:?}: one of {}", Mode::NAMES.join(", "))))?,
    };
    let spec = if mode == Mode::TargetOnly {
        None
    } else {
        if !s.pair {
            return Err(ApiError::bad(format!("cospec.mode {} needs a draft model: this server has none (start it with --draft)", mode.name())));
        }
        let k = p.spec.k.unwrap_or(s.default_k);
        if !(1..=MAX_K).contains(&k) {
            return Err(ApiError::bad(format!("cospec.k = {k} out of range 1..={MAX_K}")));
        }
        let name = p.spec.policy.as_deref().unwrap_or(&s.arbiter.policy);
        let policy = s.arbiter.policy(name).map_err(|e| ApiError::bad(format!("cospec.policy: {e:#}")))?;
        let speculative = matches!(mode, Mode::Spd | Mode::Cospec);
        if speculative && !p.sampling.is_greedy() && (p.sampling.top_p < 1.0 || p.sampling.top_k != 0) {
            return Err(ApiError::bad("speculative sampling uses the temperature only: drop top_p / top_k, or ask for cospec.mode target-only"));
        }
        Some(SpecChoice { mode, k, policy })
    };
    let mut sampling = p.sampling;
    if !p.seeded {
        sampling.seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
    }
    Ok(GenRequest { prompt, max_tokens, sampling, spec, stop: p.stop })
}

/// Every request once the GPU is gone: the process must be restarted (on a new device).
fn gpu_lost(fault: &str) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("{fault}; restart the server")).with_code("gpu_lost")
}

/// 200 while the engine can run; 503 with the fault once the GPU was lost.
async fn health(State(s): State<Arc<AppState>>) -> Response {
    match s.metrics.gpu_fault() {
        None => Json(json!({"status": "ok"})).into_response(),
        Some(fault) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "error", "error": fault}))).into_response(),
    }
}

async fn generate(s: Arc<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>, chat: bool) -> Result<Response, ApiError> {
    let rejected = |e: ApiError| {
        s.metrics.requests_rejected.fetch_add(1, Relaxed);
        e
    };
    authorize(&s, &headers).map_err(rejected)?;
    let body = body.map_err(|e| rejected(ApiError::new(e.status(), e.body_text())))?;
    let p = api::parse(&body, chat).map_err(rejected)?;
    if let Some(m) = &p.model {
        if *m != s.model_id {
            return Err(rejected(ApiError::new(StatusCode::NOT_FOUND, format!("the model '{m}' does not exist: this server runs '{}'", s.model_id)).with_code("model_not_found")));
        }
    }
    let (stream, include_usage) = (p.stream, p.include_usage);
    // Rendering the chat template (a child process, up to its CPU limit for a hostile one)
    // and tokenizing a long prompt block: off the threads that serve other clients.
    let state = s.clone();
    let req = tokio::task::spawn_blocking(move || engine_request(&state, p))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("preparing the request failed: {e}")))
        .and_then(|r| r)
        .map_err(rejected)?;
    if let Some(fault) = s.metrics.gpu_fault() {
        return Err(rejected(gpu_lost(&fault)));
    }
    let (events, mut rx) = mpsc::unbounded_channel();
    s.metrics.queue_depth.fetch_add(1, Relaxed);
    if let Err(e) = s.queue.try_send(Job { req, events }) {
        s.metrics.queue_depth.fetch_sub(1, Relaxed);
        let why = match e {
            mpsc::error::TrySendError::Full(_) => "the server is busy: every lane and queue place is taken",
            mpsc::error::TrySendError::Closed(_) => "the server is shutting down",
        };
        let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, why).with_code("server_busy");
        err.retry_after = Some(1);
        return Err(rejected(err));
    }
    let id = s.next_id.fetch_add(1, Relaxed);
    let meta = Meta { id: format!("{}-{:x}{id:04x}", if chat { "chatcmpl" } else { "cmpl" }, now_secs()), created: now_secs(), model: s.model_id.clone(), chat };
    if !stream {
        let (mut text, mut origins) = (String::new(), Vec::new());
        while let Some(e) = rx.recv().await {
            match e {
                Event::Text { text: t, origins: o } => {
                    text += &t;
                    origins.extend(o);
                }
                Event::Done { reason, prompt_tokens, completion_tokens, cached_tokens } => {
                    return Ok(Json(meta.completion(&text, reason.name(), api::usage(prompt_tokens, completion_tokens, cached_tokens), &origins)).into_response());
                }
                Event::Failed(why) => return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, why)),
            }
        }
        return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the engine stopped before the answer was complete"));
    }
    // Streaming: a role chunk first (chat), then a chunk per piece of text, the finish reason,
    // the usage chunk if asked, and [DONE]. Dropping the stream (the client left) closes the
    // channel, and the engine frees the generation at its next step.
    let data = |v: Value| SseEvent::default().data(v.to_string());
    let opening = if chat { vec![data(meta.chunk(Some(""), true, None, &[]))] } else { Vec::new() };
    let body = futures_util::stream::unfold((rx, false), move |(mut rx, ended)| {
        let meta = Meta { id: meta.id.clone(), created: meta.created, model: meta.model.clone(), chat: meta.chat };
        async move {
            if ended {
                return None;
            }
            let out = match rx.recv().await {
                Some(Event::Text { text, origins }) => return Some((vec![data(meta.chunk(Some(&text), false, None, &origins))], (rx, false))),
                Some(Event::Done { reason, prompt_tokens, completion_tokens, cached_tokens }) => {
                    let mut v = vec![data(meta.chunk(None, false, Some(reason.name()), &[]))];
                    if include_usage {
                        v.push(data(meta.usage_chunk(api::usage(prompt_tokens, completion_tokens, cached_tokens))));
                    }
                    v
                }
                Some(Event::Failed(why)) => vec![data(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, why).body())],
                None => vec![data(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the engine stopped before the answer was complete").body())],
            };
            let mut out = out;
            out.push(SseEvent::default().data("[DONE]"));
            Some((out, (rx, true)))
        }
    });
    let events = futures_util::stream::iter(std::iter::once(opening)).chain(body).flat_map(|v| futures_util::stream::iter(v.into_iter().map(Ok::<_, std::convert::Infallible>)));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}
