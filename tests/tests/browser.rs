//! The page in headless Chromium (WebGPU on SwiftShader), driven by tests/browser/chat.mjs:
//! a tiny random pair served locally must give, in SPD and in CoSpec mode, exactly the text the
//! native engine gives for the same models, prompt and settings (the lossless path is
//! deterministic across platforms), with weights split across bindings in the browser too, the
//! statistics shown, a screenshot saved under target/browser-e2e/, and a reload served from the
//! Cache API. Tiny qwen2, qwen3 and gemma3 models decode in the page as natively, and a GPU
//! lost mid-reply is reported. SmolLM2 must answer "Paris", the stop button must stop, and a storage quota too
//! small for the model must not stop it from loading.
//! Needs `scripts/web.sh build`, /usr/bin/chromium and web/node_modules (scripts/test.sh sets
//! all up and sets COSPEC_BROWSER_TESTS=1, which makes a missing piece a failure, not a skip).

use cospec::decode::speculative::SpecSession;
use cospec::model::{LoadOptions, Model};
use cospec::tokenizer::Tokenizer;
use cospec_tests::serve::StaticServer;
use cospec_tests::tiny::{tiny_gemma3, tiny_gguf, tiny_llama, tiny_model_file, tiny_qwen2, tiny_qwen3, TinySpec};
use cospec_tests::{gpu, real_model};
use cospec_web::chat_protocol::{parse_settings, prompt_text, MAX_K};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The built site, or None (a skip) when the browser pieces are absent and not required.
fn site() -> Option<PathBuf> {
    let site = root().join("target/web/site");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing: Vec<String> = [
        (site.join("pkg/cospec_web_bg.wasm"), "the page (scripts/web.sh build)"),
        (PathBuf::from(&chromium), "Chromium (apt-get install chromium)"),
        (root().join("web/node_modules/playwright-core"), "playwright-core (cd web && npm ci)"),
    ]
    .into_iter()
    .filter(|(p, _)| !p.exists())
    .map(|(_, what)| what.to_string())
    .collect();
    if missing.is_empty() {
        return Some(site);
    }
    if std::env::var("COSPEC_BROWSER_TESTS").as_deref() == Ok("1") {
        panic!("browser test needs: {}", missing.join(", "));
    }
    eprintln!("skipping the browser test: missing {}", missing.join(", "));
    None
}

/// Runs the page through `plan` and returns what it showed.
fn drive(name: &str, site: &Path, models: &Path, query: &str, plan: Value) -> Value {
    let server = StaticServer::start(site, models).unwrap();
    let out_dir = root().join("target/browser-e2e");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(format!("{name}.json"));
    let _ = std::fs::remove_file(&out);
    let status = Command::new("node")
        .arg(root().join("tests/browser/chat.mjs"))
        .arg(server.url(&format!("?{query}")))
        .arg(plan.to_string())
        .arg(&out)
        .arg(&out_dir)
        .status()
        .expect("node runs");
    let result: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap_or_default()).unwrap_or(Value::Null);
    assert!(status.success(), "the browser run failed (see the [page] lines above); partial result: {result}");
    result
}

/// A pair whose embedding (2000 x 256 Q8_0, about 540 KB) is split into 3 bindings under the
/// 256 KiB cap the page is given, and whose draft disagrees often enough to exercise the arbiter.
fn browser_pair() -> (TinySpec, TinySpec) {
    let target = TinySpec { tied: false, layers: 2, hidden: 256, ffn: 384, heads: 4, kv_heads: 2, vocab: 2000, ..tiny_llama(77) };
    let draft = TinySpec { perturb_last_ffn: Some((1077, 0.6)), ..target.clone() };
    (target, draft)
}

#[test]
fn the_page_chats_like_the_native_engine_with_a_tiny_pair() {
    let Some(site) = site() else { return };
    let (t, d) = browser_pair();
    let models = root().join("target/browser-e2e/models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join("target.gguf"), tiny_gguf(&t)).unwrap();
    std::fs::write(models.join("draft.gguf"), tiny_gguf(&d)).unwrap();

    // Native reference with the page's own settings parser and prompt rule, on lavapipe.
    let (tf, df) = (tiny_model_file(&t), tiny_model_file(&d));
    let tok = Tokenizer::from_model_file(&tf).unwrap();
    let opts = LoadOptions { ctx_len: 256, max_block: 16, ..Default::default() };
    let load = |f| Model::load(gpu(), f, &opts, &mut |_, _| {}).unwrap();
    let mut session = SpecSession::new(load(&df), load(&tf), MAX_K).unwrap();
    let prompt = "the quick brown fox";
    // The page gives the tiny pair their trained context of 256 tokens: a 210-token message
    // leaves room for 46 of its 100 reply tokens, a 300-token one for none.
    let (filling, too_long) = ("ab ".repeat(70), "abc".repeat(100));
    let runs = [
        json!({"mode": "spd", "k": 4, "max_tokens": 40, "chat": false, "prompt": prompt}),
        json!({"mode": "cospec", "policy": "entropy", "k": 3, "max_tokens": 40, "chat": false, "prompt": prompt, "screenshot": "tiny-pair.png"}),
        json!({"mode": "target-only", "max_tokens": 100, "chat": false, "prompt": filling}),
        json!({"mode": "spd", "k": 4, "max_tokens": 20, "chat": false, "prompt": too_long, "expect_error": true}),
        // Sampled SPD, whose resampling kernel once failed Chromium's uniformity rules.
        json!({"mode": "spd", "k": 4, "max_tokens": 20, "chat": false, "prompt": prompt, "temperature": 0.8}),
        // The learned policy with the arbiter built into the page (its MLP in the verify kernel).
        json!({"mode": "cospec", "policy": "learned", "k": 4, "max_tokens": 30, "chat": false, "prompt": prompt}),
    ];
    // Runs the page must match token for token (the page samples with seed 1).
    let compared = [0, 1, 4, 5];
    let mut native = Vec::new();
    for r in compared.iter().map(|&i| &runs[i]) {
        let temperature = r.get("temperature").cloned().unwrap_or(json!(0.0));
        let settings = json!({"mode": r["mode"], "policy": r.get("policy").cloned().unwrap_or(json!("entropy")), "k": r["k"], "max_tokens": r["max_tokens"], "chat": false, "temperature": temperature, "seed": 1});
        let (_, o) = parse_settings(&settings.to_string()).unwrap();
        let text = prompt_text(&tok, &json!([{"role": "user", "content": prompt}]).to_string(), false).unwrap();
        let ids = tok.encode(&text).unwrap();
        native.push(pollster::block_on(session.generate(&tok, &ids, &o, &mut |_, _| {})).unwrap());
    }
    assert!(native[0].stats.mismatches >= 3, "the pair must disagree: {:?}", native[0].stats);
    assert!(native[2].stats.mismatches >= 1, "sampled SPD must resample: {:?}", native[2].stats);
    eprintln!("native: {:?}", native.iter().map(|o| (o.tokens.len(), o.stats.mismatches, o.stats.keeps)).collect::<Vec<_>>());

    // The draft comes through the page's file picker, the target from a URL.
    let draft_path = models.join("draft.gguf");
    let shown = drive(
        "tiny-pair",
        &site,
        &models,
        "target=models/target.gguf&maxBinding=262144",
        json!({"timeout_s": 240, "runs": runs, "files": {"draft": draft_path}, "reload_check": true}),
    );
    for (&i, n) in compared.iter().zip(&native) {
        let b = &shown["runs"][i];
        assert_eq!(b["text"].as_str(), Some(n.text.as_str()), "run {i} ({}): browser text differs from native", runs[i]["mode"]);
        let s = &b["stats"];
        assert_eq!(s["tokens"].as_str().and_then(|v| v.parse().ok()), Some(n.tokens.len()), "run {i}: {s}");
        assert_eq!(s["passes"].as_str().and_then(|v| v.parse().ok()), Some(n.stats.target_passes), "run {i}: {s}");
        assert_eq!(s["mismatches"].as_str().and_then(|v| v.parse().ok()), Some(n.stats.mismatches), "run {i}: {s}");
        let tps: f64 = s["tok_per_s"].as_str().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        assert!(tps > 0.0, "run {i}: tok/s shown: {s}");
        let origins: Vec<&str> = b["origins"].as_array().unwrap().iter().filter_map(|o| o.as_str()).collect();
        assert!(origins.contains(&"draft-accepted"), "run {i}: {origins:?}");
    }
    // A reply that fills the context says so; a message that cannot fit is refused by name
    // and goes back to the composer.
    let shown_runs = shown["runs"].as_array().unwrap();
    let full = &shown_runs[2];
    assert!(full["context_full"].as_str().unwrap_or("").contains("context of 256 tokens"), "{full}");
    assert!(full["stats"]["tokens"].as_str().and_then(|v| v.parse::<usize>().ok()).is_some_and(|n| n < 100), "{full}");
    let refused = &shown_runs[3];
    assert!(refused["error"].as_str().unwrap_or("").contains("context holds 256") , "{refused}");
    assert_eq!(refused["composer"].as_str(), Some(too_long.as_str()), "{refused}");
    assert!(shown["adapter"].as_str().unwrap_or("").contains("WebGpu"), "{}", shown["adapter"]);
    assert!(root().join("target/browser-e2e/tiny-pair.png").exists());
    // The target's download is kept in the Cache API: a reload loads it without fetching.
    assert_eq!(shown["not_kept"], json!([]), "{shown}");
    assert_eq!(shown["model_requests"].as_u64(), Some(1), "{shown}");
    assert_eq!(shown["model_requests_after_reload"].as_u64(), Some(0), "{shown}");
    assert!(shown["bars_after_reload"].to_string().matches("ready").count() == 2, "{shown}");
}

/// Every architecture decodes in the page as natively: a tiny random qwen2 (K-quants, QKV
/// bias), qwen3 (per-head Q/K norms, heads wider than hidden / heads) and gemma3 (scaled
/// embeddings, post-norms, GELU gate, sliding-window layers past their window) give the native
/// engine's text token for token, target-only and greedy. (llama: the tiny-pair test.)
#[test]
fn every_architecture_in_the_page_decodes_as_natively() {
    let Some(site) = site() else { return };
    let models = root().join("target/browser-e2e/models-arch");
    std::fs::create_dir_all(&models).unwrap();
    let prompt = "the quick brown fox";
    for spec in [tiny_qwen2(31), tiny_qwen3(32), tiny_gemma3(33)] {
        let name = format!("{}.gguf", spec.arch);
        std::fs::write(models.join(&name), tiny_gguf(&spec)).unwrap();
        let file = tiny_model_file(&spec);
        let tok = Tokenizer::from_model_file(&file).unwrap();
        let opts = LoadOptions { ctx_len: 64, max_block: 16, ..Default::default() };
        let load = || Model::load(gpu(), &file, &opts, &mut |_, _| {}).unwrap();
        let mut session = SpecSession::new(load(), load(), MAX_K).unwrap();
        let settings = json!({"mode": "target-only", "max_tokens": 24, "chat": false, "temperature": 0.0, "seed": 1});
        let (_, o) = parse_settings(&settings.to_string()).unwrap();
        let ids = tok.encode(&prompt_text(&tok, &json!([{"role": "user", "content": prompt}]).to_string(), false).unwrap()).unwrap();
        let native = pollster::block_on(session.generate(&tok, &ids, &o, &mut |_, _| {})).unwrap();
        assert!(native.tokens.len() >= 8, "{}: {} tokens", spec.arch, native.tokens.len());
        let m = format!("models/{name}");
        let shown = drive(
            &format!("arch-{}", spec.arch),
            &site,
            &models,
            &format!("draft={m}&target={m}&autoload=1"),
            json!({"timeout_s": 120, "runs": [{"mode": "target-only", "max_tokens": 24, "chat": false, "prompt": prompt}]}),
        );
        let run = &shown["runs"][0];
        assert_eq!(run["text"].as_str(), Some(native.text.as_str()), "{}: the page's text differs from the native engine's", spec.arch);
    }
}

/// A GPU lost mid-reply (the device destroyed at the page's fourth read-back): the page shows
/// the fault instead of hanging or printing garbage, and gives the message back.
#[test]
fn the_page_reports_a_lost_gpu() {
    let Some(site) = site() else { return };
    let (t, d) = browser_pair();
    let models = root().join("target/browser-e2e/models-lost");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join("target.gguf"), tiny_gguf(&t)).unwrap();
    std::fs::write(models.join("draft.gguf"), tiny_gguf(&d)).unwrap();
    let prompt = "the quick brown fox";
    let shown = drive(
        "lost-gpu",
        &site,
        &models,
        "draft=models/draft.gguf&target=models/target.gguf&autoload=1&loseDeviceAt=4",
        json!({"timeout_s": 120, "runs": [{"mode": "spd", "k": 4, "max_tokens": 40, "chat": false, "prompt": prompt, "expect_error": true}]}),
    );
    let run = &shown["runs"][0];
    assert!(run["error"].as_str().unwrap_or("").contains("device was lost"), "{run}");
    assert_eq!(run["composer"].as_str(), Some(prompt), "{run}");
}

/// The real Gemma 3 270M (SentencePiece vocabulary of 262,144, heads 256 wide) in the page:
/// its greedy continuations are llama.cpp's on the same file (llama-cpp-python 0.3.36,
/// `scripts/greedy_llamacpp.py MODEL --tokens 8`, which also finds cospec's native ones equal).
#[test]
fn gemma3_270m_in_the_page_continues_as_llama_cpp() {
    let Some(site) = site() else { return };
    let Some(path) = real_model("gemma-3-270m-q4_k_m.gguf") else { return };
    let m = "models/gemma-3-270m-q4_k_m.gguf";
    let cases = [("The capital of France is", " the capital of the country of France."), ("Water boils at", " 100 degrees Celsius.\n\n")];
    let runs: Vec<Value> = cases.iter().map(|(p, _)| json!({"mode": "target-only", "max_tokens": 8, "chat": false, "prompt": p})).collect();
    let shown = drive("gemma3", &site, path.parent().unwrap(), &format!("draft={m}&target={m}&autoload=1"), json!({"timeout_s": 400, "runs": runs}));
    for (i, (prompt, llama_cpp)) in cases.iter().enumerate() {
        assert_eq!(shown["runs"][i]["text"].as_str(), Some(*llama_cpp), "{prompt:?}: {}", shown["runs"][i]);
    }
}

#[test]
fn smollm2_in_the_page_says_paris_and_stops_when_asked() {
    let Some(site) = site() else { return };
    let Some(path) = real_model("SmolLM2-135M-Instruct.Q4_1.gguf") else { return };
    let models = path.parent().unwrap();
    let m = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
    let shown = drive(
        "smollm2",
        &site,
        models,
        &format!("draft={m}&target={m}&autoload=1"),
        json!({"timeout_s": 400, "reload_check": true, "quota_bytes": 1 << 20, "runs": [
            {"mode": "target-only", "max_tokens": 8, "chat": false, "prompt": "The capital of France is", "screenshot": "smollm2-not-kept.png"},
            {"mode": "spd", "k": 4, "max_tokens": 200, "chat": true, "prompt": "Write a long story about a robot.", "stop_after": 6},
        ]}),
    );
    let runs = shown["runs"].as_array().unwrap();
    assert!(runs[0]["text"].as_str().unwrap_or("").contains("Paris"), "{}", runs[0]);
    // SwiftShader is a CPU: its weights live in textures (read-only storage textures there).
    let adapter = shown["adapter"].as_str().unwrap_or("");
    if adapter.contains("fallback (CPU)") {
        assert!(adapter.contains("weights in textures"), "{adapter}");
    }
    let stopped: usize = runs[1]["stats"]["tokens"].as_str().and_then(|v| v.parse().ok()).unwrap_or(usize::MAX);
    assert!((1..200).contains(&stopped), "stop after a few steps, got {stopped} tokens: {}", runs[1]);
    // Storage too small for the file (as on a full disk): the model still loads, the page says
    // it was not kept, and a reload downloads it again. Draft and target name one file: one
    // download each time (two where the page warned that it fell back to memory).
    let requests = |key: &str| shown[key].as_u64().unwrap_or(0);
    let fallbacks = shown["warnings"].as_array().map_or(0, |w| w.iter().filter(|m| m.to_string().contains("into memory")).count()) as u64;
    assert_eq!(requests("model_requests") + requests("model_requests_after_reload"), 2 + fallbacks, "{shown}");
    assert!(requests("model_requests_after_reload") >= 1, "{shown}");
    for key in ["not_kept", "not_kept_after_reload"] {
        let notes = shown[key].as_array().cloned().unwrap_or_default();
        assert_eq!(notes.len(), 2, "both roles say the file was not kept ({key}): {shown}");
        assert!(notes.iter().all(|n| n.to_string().contains("Not kept for the next visit")), "{shown}");
    }
    assert_eq!(shown["bars_after_reload"].to_string().matches("ready").count(), 2, "{shown}");
}

#[test]
fn a_browser_without_webgpu_gets_a_clear_message() {
    let Some(site) = site() else { return };
    let shown = drive("no-webgpu", &site, &site, "", json!({"timeout_s": 60, "no_webgpu": true}));
    let text = shown["fatal"].as_str().unwrap_or("");
    assert!(text.contains("no WebGPU") && text.contains("Chrome"), "{shown}");
}
