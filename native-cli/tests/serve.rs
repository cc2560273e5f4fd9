//! `cospec serve` end to end on SmolLM2: the OpenAI shapes, streaming, greedy output equal to
//! `cospec run`, clients side by side getting what they get alone, a client that leaves, every
//! kind of bad request, a full queue, SIGTERM, and (when a Python with the `openai` package is
//! named by COSPEC_OPENAI_PYTHON) the official client.

use cospec_tests::real_model;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SMOLLM2: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts `cospec serve` on a free port and waits for its "listening on" line.
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cospec"))
            .arg("serve")
            .args(["--port", "0"])
            .args(args)
            .env("XDG_RUNTIME_DIR", "/tmp")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("the server exited before listening").unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, url }
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, &body.to_string(), None)
    }

    fn post_raw(&self, path: &str, body: &str, key: Option<&str>) -> (u16, Value) {
        let mut req = ureq::post(&format!("{}{path}", self.url)).set("Content-Type", "application/json");
        if let Some(k) = key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        answer(req.send_string(body))
    }

    fn get(&self, path: &str, key: Option<&str>) -> (u16, String) {
        let mut req = ureq::get(&format!("{}{path}", self.url));
        if let Some(k) = key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        match req.call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// A streamed request: its data payloads, read until [DONE] or `stop_after` payloads.
    fn stream(&self, path: &str, body: &Value, stop_after: Option<usize>) -> Vec<String> {
        let r = ureq::post(&format!("{}{path}", self.url)).send_string(&body.to_string()).unwrap();
        assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
        let mut out = Vec::new();
        for line in BufReader::new(r.into_reader()).lines() {
            let line = line.unwrap();
            if let Some(data) = line.strip_prefix("data: ") {
                out.push(data.to_string());
                if data == "[DONE]" || stop_after == Some(out.len()) {
                    break;
                }
            }
        }
        out
    }

    fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get("/metrics", None);
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    }
}

impl Server {
    /// Sends SIGTERM and waits, at most 30 s, for a clean exit.
    fn sigterm_and_expect_exit_zero(&mut self) {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok);
        self.expect_exit_zero();
    }

    /// Waits, at most 30 s after a SIGTERM, for the server to exit with status 0.
    fn expect_exit_zero(&mut self) {
        let t0 = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "still running 30 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{status:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    match r {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap()),
        Err(e) => panic!("request failed: {e}"),
    }
}

fn text_of(v: &Value) -> String {
    let c = &v["choices"][0];
    c["message"]["content"].as_str().or(c["text"].as_str()).unwrap_or_else(|| panic!("no text in {v}")).to_string()
}

/// The text of a streamed answer, and its finish reason.
fn streamed_text(payloads: &[String]) -> (String, Option<String>) {
    let mut text = String::new();
    let mut reason = None;
    for p in payloads.iter().filter(|p| *p != "[DONE]") {
        let v: Value = serde_json::from_str(p).unwrap();
        for c in v["choices"].as_array().unwrap() {
            text += c["delta"]["content"].as_str().or(c["text"].as_str()).unwrap_or("");
            if let Some(r) = c["finish_reason"].as_str() {
                reason = Some(r.to_string());
            }
        }
    }
    (text, reason)
}

fn cospec_run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cospec")).arg("run").args(args).env("XDG_RUNTIME_DIR", "/tmp").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn answers_stream_and_match_cospec_run_in_every_mode() {
    let Some(m) = real_model(SMOLLM2) else { return };
    let server = Server::start(&["--target", s(&m), "--draft", s(&m), "--lanes", "2", "--ctx", "256"]);
    let (code, models) = server.post_raw("/v1/models", "", None);
    assert_eq!(code, 405, "models is GET only: {models}");
    let (_, models) = server.get("/v1/models", None);
    let id = serde_json::from_str::<Value>(&models).unwrap()["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(id, "SmolLM2-135M-Instruct.Q4_1");

    let chat = json!({"model": id, "messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 24, "temperature": 0});
    let (code, v) = server.post("/v1/chat/completions", &chat);
    assert_eq!(code, 200, "{v}");
    let answer = text_of(&v);
    assert!(answer.contains("Paris"), "{answer}");
    assert_eq!(v["object"], "chat.completion");
    let usage = &v["usage"];
    assert_eq!(usage["total_tokens"].as_u64(), Some(usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()));

    let mut streamed = chat.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let payloads = server.stream("/v1/chat/completions", &streamed, None);
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    let (text, reason) = streamed_text(&payloads);
    assert_eq!(text, answer);
    assert_eq!(reason.as_deref(), v["choices"][0]["finish_reason"].as_str());
    let first: Value = serde_json::from_str(&payloads[0]).unwrap();
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let usage_chunk: Value = serde_json::from_str(&payloads[payloads.len() - 2]).unwrap();
    let u = &usage_chunk["usage"];
    for k in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        assert_eq!(u[k], usage[k], "{k}");
    }
    // The same prompt again: all of it but its last token is found in the slot's cache.
    assert_eq!(u["prompt_tokens_details"]["cached_tokens"].as_u64(), Some(u["prompt_tokens"].as_u64().unwrap() - 1));
    assert_eq!(usage_chunk["choices"], json!([]));

    // Greedy text through the server is `cospec run`'s, in every mode; SPD stays lossless.
    let prompt = "The three primary colours are";
    let alone = cospec_run(&["--model", s(&m), "--prompt", prompt, "--max-tokens", "20"]);
    for (mode, k) in [("target-only", 4), ("spd", 4), ("spd", 1), ("cospec", 3), ("draft-only", 4)] {
        let body = json!({"prompt": prompt, "max_tokens": 20, "temperature": 0, "cospec": {"mode": mode, "k": k, "policy": "cosd"}});
        let (code, v) = server.post("/v1/completions", &body);
        assert_eq!(code, 200, "{mode}: {v}");
        assert_eq!(format!("{prompt}{}\n", text_of(&v)), alone, "{mode} k = {k}");
        let origins = v["cospec"]["origins"].as_array().unwrap();
        assert!(!origins.is_empty() && origins.len() <= v["usage"]["completion_tokens"].as_u64().unwrap() as usize);
        if mode == "spd" {
            assert!(origins.iter().any(|o| o == "draft-accepted"), "the target is its own draft: {origins:?}");
        }
    }
    let spd = cospec_run(&["--target", s(&m), "--draft", s(&m), "--mode", "spd", "-k", "2", "--prompt", prompt, "--max-tokens", "20"]);
    assert_eq!(spd, alone);

    // Stop strings end the text before them, streamed or not.
    let body = json!({"prompt": prompt, "max_tokens": 20, "temperature": 0, "stop": ["primary", " and"]});
    let (_, v) = server.post("/v1/completions", &body);
    let full = &alone[prompt.len()..alone.len() - 1];
    let at = ["primary", " and"].iter().filter_map(|st| full.find(st)).min();
    let cut = at.map(|i| &full[..i]).unwrap_or(full);
    assert_eq!(text_of(&v), cut);
    if at.is_some() {
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
    }
    let mut sb = body.clone();
    sb["stream"] = json!(true);
    assert_eq!(streamed_text(&server.stream("/v1/completions", &sb, None)).0, cut);

    // Seeded sampling repeats.
    let sampled = json!({"prompt": prompt, "max_tokens": 12, "temperature": 0.9, "top_p": 0.95, "seed": 11, "cospec": {"mode": "target-only"}});
    assert_eq!(text_of(&server.post("/v1/completions", &sampled).1), text_of(&server.post("/v1/completions", &sampled).1));
    assert_eq!(server.metric("cospec_requests_total{outcome=\"ok\"}"), 11.0);
    assert!(server.metric("cospec_tokens_per_target_pass") > 1.0);
}

#[test]
fn clients_side_by_side_get_what_they_get_alone_and_a_leaver_frees_its_lane() {
    let Some(m) = real_model(SMOLLM2) else { return };
    let server = Server::start(&["--target", s(&m), "--lanes", "4", "--ctx", "192"]);
    let prompts = ["Once upon a time", "def fibonacci(n):", "The capital of Japan is", "1, 2, 3, 4,", "Water boils at", "My favourite fruit", "SELECT * FROM", "Dear diary, today"];
    let body = |i: usize| json!({"prompt": prompts[i], "max_tokens": 6 + 3 * i, "temperature": 0, "seed": i});
    let alone: Vec<String> = (0..prompts.len()).map(|i| text_of(&server.post("/v1/completions", &body(i)).1)).collect();
    let url = server.url.clone();
    // A client that reads two chunks of a long answer and hangs up.
    let leaver = std::thread::spawn(move || {
        let r = ureq::post(&format!("{url}/v1/chat/completions"))
            .send_string(&json!({"messages": [{"role": "user", "content": "Write a long story."}], "max_tokens": 150, "temperature": 0, "stream": true}).to_string())
            .unwrap();
        let mut lines = BufReader::new(r.into_reader()).lines();
        let mut seen = 0;
        while seen < 3 {
            if lines.next().unwrap().unwrap().starts_with("data: ") {
                seen += 1;
            }
        }
    });
    let together: Vec<String> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..prompts.len()).map(|i| {
            let server = &server;
            sc.spawn(move || text_of(&server.post("/v1/completions", &body(i)).1))
        }).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    leaver.join().unwrap();
    assert_eq!(together, alone);
    let t0 = Instant::now();
    while server.metric("cospec_requests_total{outcome=\"cancelled\"}") < 1.0 {
        assert!(t0.elapsed() < Duration::from_secs(30), "the leaver's generation was never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.metric("cospec_lanes_busy"), 0.0);
    assert_eq!(server.metric("cospec_queue_depth"), 0.0);
    assert_eq!(server.metric("cospec_requests_total{outcome=\"ok\"}"), 16.0);
}

#[test]
fn a_chats_next_turn_prefills_only_its_new_tokens() {
    let Some(m) = real_model(SMOLLM2) else { return };
    let server = Server::start(&["--target", s(&m), "--draft", s(&m), "--lanes", "2", "--ctx", "256"]);
    // Lanes (target-only) and the speculative slot (SPD) each keep their rows.
    for (mode, turn1) in [("target-only", "User: Name three colours.\nAssistant:"), ("spd", "User: Name two rivers.\nAssistant:")] {
        let ask = |prompt: &str| json!({"prompt": prompt, "max_tokens": 12, "temperature": 0, "cospec": {"mode": mode}});
        let (_, v1) = server.post("/v1/completions", &ask(turn1));
        let a1 = text_of(&v1);
        // Another client in between: a lane takes the least recently used one; the slot is
        // left alone by target-only requests.
        server.post("/v1/completions", &json!({"prompt": "Unrelated text", "max_tokens": 3, "temperature": 0, "cospec": {"mode": "target-only"}}));
        let turn2 = format!("{turn1}{a1}\nUser: And three fruits?\nAssistant:");
        let reused_before = server.metric("cospec_prompt_tokens_reused_total");
        let (_, v2) = server.post("/v1/completions", &ask(&turn2));
        let p1 = v1["usage"]["prompt_tokens"].as_u64().unwrap();
        let (p2, cached) = (v2["usage"]["prompt_tokens"].as_u64().unwrap(), v2["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap());
        assert!(cached >= p1 && cached < p2, "{mode}: turn 2 reused {cached} of its {p2} prompt tokens; turn 1's prompt had {p1}");
        assert_eq!(server.metric("cospec_prompt_tokens_reused_total") - reused_before, cached as f64);
        // Exactly the text a fresh prefill gives (greedy SPD is the target's greedy text).
        let fresh = cospec_run(&["--model", s(&m), "--prompt", &turn2, "--max-tokens", "12"]);
        assert_eq!(format!("{turn2}{}\n", text_of(&v2)), fresh, "{mode}");
    }
}

#[test]
fn bad_requests_get_openai_errors_and_the_server_goes_on() {
    let Some(m) = real_model(SMOLLM2) else { return };
    let server = Server::start(&["--model", s(&m), "--api-key", "sesame", "--ctx", "48", "--max-body", "2000", "--lanes", "1", "--queue", "1"]);
    let key = Some("sesame");
    let msg = |content: &str| json!({"messages": [{"role": "user", "content": content}], "max_tokens": 4, "temperature": 0});
    let cases: Vec<(&str, &str, String, Option<&str>, u16)> = vec![
        ("no key", "/v1/chat/completions", msg("hi").to_string(), None, 401),
        ("wrong key", "/v1/chat/completions", msg("hi").to_string(), Some("open"), 401),
        ("malformed JSON", "/v1/chat/completions", "{\"messages\": [".into(), key, 400),
        ("not an object", "/v1/chat/completions", "[]".into(), key, 422),
        ("no messages", "/v1/chat/completions", "{}".into(), key, 422),
        ("wrong type", "/v1/chat/completions", json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": "4"}).to_string(), key, 422),
        ("bad role", "/v1/chat/completions", json!({"messages": [{"role": "robot", "content": "hi"}]}).to_string(), key, 400),
        ("unknown model", "/v1/chat/completions", json!({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}).to_string(), key, 404),
        ("prompt too long", "/v1/completions", json!({"prompt": "word ".repeat(60)}).to_string(), key, 400),
        ("max_tokens beyond the context", "/v1/completions", json!({"prompt": "Hi", "max_tokens": 100}).to_string(), key, 400),
        ("no draft", "/v1/completions", json!({"prompt": "Hi", "cospec": {"mode": "spd"}}).to_string(), key, 400),
        ("body too large", "/v1/completions", json!({"prompt": "x".repeat(3000)}).to_string(), key, 413),
        ("no such endpoint", "/v1/embeddings", "{}".into(), key, 404),
    ];
    for (what, path, body, k, want) in &cases {
        let (code, v) = server.post_raw(path, body, *k);
        assert_eq!(code, *want, "{what}: {v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {v}");
    }
    let (code, v) = server.post_raw("/v1/completions", &json!({"prompt": "word ".repeat(60)}).to_string(), key);
    assert_eq!((code, v["error"]["code"].as_str()), (400, Some("context_length_exceeded")));
    let bytes = ureq::post(&format!("{}/v1/completions", server.url)).set("Authorization", "Bearer sesame").send_bytes(&[b'{', 0xff, 0xfe, b'}']);
    assert_eq!(answer(bytes).0, 400, "non-UTF-8 body");
    assert_eq!(server.get("/metrics", None).0, 401);
    assert_eq!(server.get("/health", None).0, 200);

    // One lane and one queue place: a third waiting request is turned away with Retry-After.
    let long = json!({"prompt": "1, 2, 3,", "max_tokens": 40, "temperature": 0, "stream": true});
    let url = server.url.clone();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let first = std::thread::spawn(move || {
        let r = ureq::post(&format!("{url}/v1/completions")).set("Authorization", "Bearer sesame").send_string(&long.to_string()).unwrap();
        let mut lines = BufReader::new(r.into_reader()).lines();
        let mut n = 0;
        while let Some(Ok(l)) = lines.next() {
            if l.starts_with("data: ") {
                n += 1;
                if n == 1 {
                    started_tx.send(()).unwrap();
                }
            }
        }
    });
    started_rx.recv().unwrap();
    let busy: Vec<(u16, Option<String>)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let url = &server.url;
                sc.spawn(move || {
                    let r = ureq::post(&format!("{url}/v1/completions")).set("Authorization", "Bearer sesame").send_string(&json!({"prompt": "Hi", "max_tokens": 4, "temperature": 0}).to_string());
                    match r {
                        Ok(r) => (r.status(), None),
                        Err(ureq::Error::Status(c, r)) => (c, r.header("Retry-After").map(str::to_string)),
                        Err(e) => panic!("{e}"),
                    }
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    first.join().unwrap();
    assert!(busy.iter().any(|(c, r)| *c == 503 && r.as_deref() == Some("1")), "{busy:?}");
    assert!(busy.iter().all(|(c, _)| *c == 200 || *c == 503), "{busy:?}");
    let (code, v) = server.post_raw("/v1/chat/completions", &msg("Say hello.").to_string(), key);
    assert_eq!(code, 200, "a good request after all that: {v}");
}

#[test]
fn sigterm_ends_open_streams_and_exits_zero() {
    let Some(m) = real_model(SMOLLM2) else { return };
    let mut server = Server::start(&["--target", s(&m), "--ctx", "512"]);
    let r = ureq::post(&format!("{}/v1/completions", server.url))
        .send_string(&json!({"prompt": "1, 2, 3,", "max_tokens": 400, "temperature": 0, "stream": true}).to_string())
        .unwrap();
    let mut payloads = Vec::new();
    let mut lines = BufReader::new(r.into_reader()).lines();
    while let Some(Ok(l)) = lines.next() {
        if let Some(d) = l.strip_prefix("data: ") {
            payloads.push(d.to_string());
            if payloads.len() == 2 {
                let ok = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap().success();
                assert!(ok);
            }
        }
    }
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    let (text, reason) = streamed_text(&payloads);
    assert_eq!(reason.as_deref(), Some("length"));
    assert!(text.len() < 400 * 4);
    server.expect_exit_zero();
}

#[test]
fn the_official_openai_client_talks_to_it() {
    let Some(python) = std::env::var_os("COSPEC_OPENAI_PYTHON").map(PathBuf::from) else {
        eprintln!("skipping: COSPEC_OPENAI_PYTHON (a Python with the openai package) is not set; scripts/test.sh sets it");
        return;
    };
    let Some(m) = real_model(SMOLLM2) else { return };
    let server = Server::start(&["--target", s(&m), "--draft", s(&m), "--api-key", "sesame", "--ctx", "256"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openai_client.py");
    let out = Command::new(python).arg(script).arg(format!("{}/v1", server.url)).arg("sesame").output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "openai client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all openai client checks passed"), "{stdout}");
}

/// A GPU lost mid-generation (the device destroyed at a read-back) fails the request under
/// way with the fault's text, turns /health to 503 and every later request into a 503 that
/// says to restart, and the server still exits cleanly on SIGTERM.
#[test]
fn a_lost_gpu_fails_the_request_and_the_server_says_so_until_restarted() {
    let Some(m) = real_model(SMOLLM2) else { return };
    let mut server = Server::start(&["--target", s(&m), "--ctx", "256", "--lose-device-at", "6"]);
    assert_eq!(server.get("/health", None).0, 200);
    let body = json!({"prompt": "1, 2, 3,", "max_tokens": 30, "temperature": 0});
    let (code, v) = server.post("/v1/completions", &body);
    assert_eq!(code, 500, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("device was lost"), "{v}");
    let (code, health) = server.get("/health", None);
    assert_eq!(code, 503, "{health}");
    assert!(health.contains("device was lost"), "{health}");
    let (code, v) = server.post("/v1/completions", &body);
    assert_eq!((code, v["error"]["code"].as_str()), (503, Some("gpu_lost")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("restart the server"), "{v}");
    assert_eq!(server.metric("cospec_gpu_fault"), 1.0);
    server.sigterm_and_expect_exit_zero();
}

/// A model whose chat template fills memory (a string doubled in a loop): each chat request
/// gets a 400 naming the memory limit of the process that rendered it, while the server keeps
/// answering others, raw completions included, and stays healthy.
#[test]
fn a_hostile_chat_template_fails_its_request_and_the_server_goes_on() {
    use cospec::formats::gguf::MetaValue;
    use cospec_tests::tiny::{tiny_gguf_with, tiny_llama, DOUBLING_CHAT_TEMPLATE};
    let bytes = tiny_gguf_with(&tiny_llama(7), vec![("tokenizer.chat_template".into(), MetaValue::Str(DOUBLING_CHAT_TEMPLATE.into()))], vec![]);
    let dir = std::env::temp_dir().join(format!("cospec-serve-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hostile-template.gguf");
    std::fs::write(&path, bytes).unwrap();
    let server = Server::start(&["--model", s(&path), "--ctx", "64", "--lanes", "2"]);
    for _ in 0..2 {
        let (code, v) = server.post("/v1/chat/completions", &json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}));
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(code == 400 && message.contains("MiB of memory"), "{code}: {v}");
        let (code, v) = server.post("/v1/completions", &json!({"prompt": "the", "max_tokens": 2, "temperature": 0}));
        assert_eq!(code, 200, "{v}");
    }
    assert_eq!(server.get("/health", None).0, 200);
}
