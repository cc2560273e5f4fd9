//! The `cospec` binary end to end on a tiny random model written to a temporary file.

use cospec_tests::tiny::{tiny_gguf, tiny_llama};
use std::path::PathBuf;
use std::process::Command;

fn tiny_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cospec-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A tiny untied target and a draft that differs from it in the last FFN (seed + 1000, by
/// `perturb`), written as `{prefix}target.gguf` and `{prefix}draft.gguf`.
fn tiny_pair(prefix: &str, seed: u64, perturb: f32) -> (PathBuf, PathBuf) {
    use cospec_tests::tiny::TinySpec;
    let t = TinySpec { tied: false, ..tiny_llama(seed) };
    let d = TinySpec { perturb_last_ffn: Some((seed + 1000, perturb)), ..t.clone() };
    (tiny_file(&format!("{prefix}target.gguf"), &tiny_gguf(&t)), tiny_file(&format!("{prefix}draft.gguf"), &tiny_gguf(&d)))
}

/// Math problems "Add {i} and {add}." for each template, in the split its id gives.
fn problems_file(name: &str, templates: impl Iterator<Item = u32>, add: u32) -> PathBuf {
    let lines: Vec<String> = templates
        .map(|i| {
            let split = if i < 60 { "train" } else { "dev" };
            format!(r#"{{"template": {i}, "variant": 0, "split": "{split}", "question": "Add {i} and {add}.", "answer": "{}"}}"#, i + add)
        })
        .collect();
    tiny_file(name, lines.join("\n").as_bytes())
}

fn cospec(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cospec")).args(args).env("XDG_RUNTIME_DIR", "/tmp").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn info_describes_the_model_and_adapter() {
    let p = tiny_file("info.gguf", &tiny_gguf(&tiny_llama(1)));
    let (ok, out, err) = cospec(&["info", "--model", p.to_str().unwrap()]);
    assert!(ok, "{err}");
    for want in ["architecture:  llama", "3 layers", "Q4_0", "adapter:", "tokenizer:"] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

/// A GPU lost mid-generation (the device destroyed at a read-back): `run`, alone and
/// speculative, ends with the fault's text and a failing status, no panic, no hang.
#[test]
fn a_lost_gpu_ends_run_with_an_error() {
    let p = tiny_file("lost.gguf", &tiny_gguf(&tiny_llama(2)));
    let (t, d) = tiny_pair("lost-", 5, 0.5);
    let alone = ["run", "--model", p.to_str().unwrap(), "--prompt", "the in", "--max-tokens", "20", "--lose-device-at", "4"];
    let pair = ["run", "--draft", d.to_str().unwrap(), "--target", t.to_str().unwrap(), "--mode", "spd", "--prompt", "the in", "--max-tokens", "20", "--lose-device-at", "4"];
    for args in [&alone[..], &pair[..]] {
        let (ok, _, err) = cospec(args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.contains("GPU fault: the device was lost") && !err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn run_streams_text_and_reports_speeds() {
    let p = tiny_file("run.gguf", &tiny_gguf(&tiny_llama(2)));
    let (ok, out, err) = cospec(&["run", "--model", p.to_str().unwrap(), "--prompt", "the in", "--max-tokens", "6"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("the in"), "{out}");
    assert!(err.contains("prompt:") && err.contains("decode:") && err.contains("tok/s"), "{err}");
    let (ok, _, err) = cospec(&["run", "--model", p.to_str().unwrap(), "--prompt", "hi", "--chat", "--max-tokens", "4", "--temperature", "0.8", "--top-k", "20", "--top-p", "0.9", "--seed", "3"]);
    assert!(ok, "{err}");
}

#[test]
fn the_kv_cache_type_and_a_context_past_training_are_said_on_load() {
    let p = tiny_file("kv.gguf", &tiny_gguf(&tiny_llama(5)));
    let p = p.to_str().unwrap();
    // The tiny model: 3 layers x K and V x 2 KV heads x 16 dims, trained for 256 positions.
    for (kv, kib) in [("f16", "0.4 KiB a token"), ("f32", "0.8 KiB a token")] {
        let (ok, _, err) = cospec(&["--kv-type", kv, "run", "--model", p, "--prompt", "the", "--max-tokens", "2", "--ctx", "64"]);
        assert!(ok && err.contains(&format!("KV cache {kv}")) && err.contains(kib), "{err}");
        assert!(!err.contains("past the"), "{err}");
    }
    let (ok, _, err) = cospec(&["run", "--model", p, "--prompt", "the", "--max-tokens", "2", "--ctx", "300"]);
    assert!(ok && err.contains("300 tokens is past the 256 this model was trained for"), "{err}");
    let (ok, _, err) = cospec(&["--kv-type", "q8", "run", "--model", p, "--prompt", "the"]);
    assert!(!ok && err.contains("--kv-type \"q8\"") && err.contains("f16, f32"), "{err}");
}

#[test]
fn bench_prints_prompt_and_decode_speed() {
    let p = tiny_file("bench.gguf", &tiny_gguf(&tiny_llama(3)));
    let (ok, out, err) = cospec(&["bench", "--model", p.to_str().unwrap(), "--prompt-tokens", "8", "--gen-tokens", "4", "--reps", "1", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["decode_tok_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["prompt_tok_per_s"].as_f64().unwrap() > 0.0);
    // Sequences side by side: one total per count; counts out of range are refused.
    let (ok, out, err) = cospec(&["bench", "--model", p.to_str().unwrap(), "--prompt-tokens", "5", "--gen-tokens", "3", "--reps", "1", "--sequences", "3,4", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for n in ["3", "4"] {
        assert!(v["decode_tok_per_s_side_by_side"][n].as_f64().unwrap() > 0.0, "{out}");
    }
    // The widest block's time by kernel, and the product shape it ran with.
    assert_eq!(v["block_kernel_ms"]["tokens"].as_u64(), Some(4), "{out}");
    assert!(v["block_kernel_ms"]["ms"]["matmul"].as_f64().unwrap() > 0.0, "{out}");
    assert!(v["matmul"].is_string() && v["cooperative_shape"].as_array().is_some_and(|a| a.len() == 3), "{out}");
    let (ok, _, err) = cospec(&["bench", "--model", p.to_str().unwrap(), "--sequences", "0"]);
    assert!(!ok && err.contains("--sequences 0"), "{err}");
}

#[test]
fn bad_files_and_prompts_give_clear_errors() {
    let full = tiny_gguf(&tiny_llama(4));
    let p = tiny_file("cut.gguf", &full[..full.len() / 2]);
    let (ok, _, err) = cospec(&["info", "--model", p.to_str().unwrap()]);
    assert!(!ok && err.contains("truncated"), "{err}");
    let (ok, _, err) = cospec(&["run", "--model", "/nonexistent/model.gguf", "--prompt", "x"]);
    assert!(!ok && err.contains("/nonexistent/model.gguf"), "{err}");
    let p = tiny_file("ctx.gguf", &full);
    let long = "the ".repeat(40);
    let (ok, _, err) = cospec(&["run", "--model", p.to_str().unwrap(), "--prompt", &long, "--ctx", "16"]);
    assert!(!ok && err.contains("context"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A model file's chat template is code from wherever the file came from. One that doubles a
/// string in a loop (2^40 bytes after forty steps, far under minijinja's step limit) is stopped
/// by the rendering process's memory limit with an error that says so; a benign template from
/// a file renders through the same process and is used.
#[test]
fn a_chat_template_that_fills_memory_is_stopped_and_a_benign_one_is_used() {
    use cospec::formats::gguf::MetaValue;
    use cospec_tests::tiny::{tiny_gguf_with, DOUBLING_CHAT_TEMPLATE};
    let with_template = |name: &str, template: &str| {
        tiny_file(name, &tiny_gguf_with(&tiny_llama(6), vec![("tokenizer.chat_template".into(), MetaValue::Str(template.into()))], vec![]))
    };
    let hostile = with_template("doubling-template.gguf", DOUBLING_CHAT_TEMPLATE);
    let started = std::time::Instant::now();
    let (ok, _, err) = cospec(&["run", "--model", hostile.to_str().unwrap(), "--prompt", "hi", "--chat", "--max-tokens", "2"]);
    assert!(!ok, "the doubling template rendered");
    assert!(err.contains("chat template"), "{err}");
    assert!(err.contains("MiB of memory") && !err.contains("panicked"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "took {:?}", started.elapsed());
    // A template's own error comes back from the rendering process with its text.
    let raising = with_template("raising-template.gguf", "{{ raise_exception('only system and user roles') }}");
    let (ok, _, err) = cospec(&["run", "--model", raising.to_str().unwrap(), "--prompt", "hi", "--chat", "--max-tokens", "2"]);
    assert!(!ok && err.contains("only system and user roles") && !err.contains("panicked"), "{err}");
    // The benign template's text is the prompt: ten copies of "qqq", one byte token each.
    let benign = with_template("benign-template.gguf", "{% for m in messages %}{{ m['content'] * 10 }}{% endfor %}");
    let (ok, _, err) = cospec(&["run", "--model", benign.to_str().unwrap(), "--prompt", "qqq", "--chat", "--max-tokens", "2"]);
    assert!(ok, "{err}");
    let prompt_tokens: usize = err.split("prompt: ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).expect(&err);
    assert!((30..=31).contains(&prompt_tokens), "{err}");
}

#[test]
fn run_with_a_pair_reports_origins_and_statistics() {
    let (tp, dp) = tiny_pair("", 21, 0.6);
    let pair = ["run", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--prompt", "the in", "--max-tokens", "24"];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = pair.iter().chain(extra).copied().collect();
        cospec(&args)
    };
    let (ok, out, err) = run(&["--mode", "spd", "-k", "3"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("the in"), "{out}");
    for want in ["spd (target, k = 3)", "tokens/pass", "mismatches/100", "draft accepted", "1.00 submissions and 1.00 read-backs per step"] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    let json = |extra: &[&str]| -> serde_json::Value {
        let (ok, out, err) = run(extra);
        assert!(ok, "{err}");
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let target_only = json(&["--mode", "target-only", "--json"]);
    let spd = json(&["--mode", "spd", "-k", "4", "--json"]);
    assert_eq!(spd["tokens"], target_only["tokens"], "lossless through the CLI");
    assert!(spd["stats"]["target_passes"].as_u64().unwrap() < target_only["stats"]["target_passes"].as_u64().unwrap());
    let kept = json(&["--mode", "cospec", "--policy", "draft", "-k", "4", "--json"]);
    assert!(kept["origins"].as_array().unwrap().iter().any(|o| o == "draft-kept"), "{kept}");
    assert_eq!(kept["stats"]["keeps"], kept["stats"]["mismatches"]);
    for (args, want) in [
        (vec!["--mode", "cospec", "--policy", "nope"], "unknown policy"),
        (vec!["--mode", "cospec", "--policy", "learned"], "--arbiter"),
        (vec!["--mode", "fast"], "unknown mode"),
        (vec!["-k", "17"], "out of range"),
    ] {
        let (ok, _, err) = run(&args);
        assert!(!ok && err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn eval_writes_the_table_and_resumes() {
    let (tp, dp) = tiny_pair("eval-", 23, 0.6);
    let pf = problems_file("problems.jsonl", 60..63, 1);
    let out = pf.parent().unwrap().join("eval-out");
    let _ = std::fs::remove_dir_all(&out);
    let args = [
        "eval", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(),
        "--modes", "draft-only,target-only,spd,cospec:draft,cospec:entropy", "--max-tokens", "12", "-k", "3", "--out", out.to_str().unwrap(),
    ];
    let (ok, table, err) = cospec(&args);
    assert!(ok, "{err}");
    for col in ["accuracy", "95% CI", "tok/s", "speed-up vs target-only", "tokens/target pass", "mismatches/100 tokens", "mismatches kept", "wrong->right", "right->wrong", "McNemar p"] {
        assert!(table.contains(col), "missing column {col:?}:\n{table}");
    }
    for mode in ["| draft-only |", "| target-only |", "| spd |", "| cospec:draft |", "| cospec:entropy |"] {
        assert!(table.contains(mode), "missing row {mode}:\n{table}");
    }
    assert!(table.contains("/3 = "), "three problems per row:\n{table}");
    for f in ["table.md", "table.json", "flips.md", "accuracy_vs_speed.svg", "records.jsonl", "config.json"] {
        assert!(out.join(f).exists(), "{f} not written");
    }
    let records = || std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    assert_eq!(records().lines().count(), 15);
    // A re-run runs nothing; losing the last record reruns exactly that one.
    let (ok, again, err) = cospec(&args);
    assert!(ok && err.contains("15 done, 0 to run"), "{err}");
    assert_eq!(again, table);
    // Each record keeps the generated text and its adapter; a record written before those
    // fields still loads.
    let all = records();
    for line in all.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["text"].as_str().is_some_and(|t| !t.is_empty()), "no text in {line}");
        assert!(v["adapter"].as_str().is_some_and(|a| !a.is_empty()), "no adapter in {line}");
    }
    let mut kept: Vec<String> = all.lines().take(14).map(String::from).collect();
    let mut old: serde_json::Value = serde_json::from_str(&kept[0]).unwrap();
    old.as_object_mut().unwrap().remove("text");
    old.as_object_mut().unwrap().remove("adapter");
    kept[0] = old.to_string();
    std::fs::write(out.join("records.jsonl"), kept.join("\n") + "\n").unwrap();
    let (ok, _, err) = cospec(&args);
    assert!(ok && err.contains("14 done, 1 to run"), "{err}");
    assert_eq!(records().lines().count(), 15);
    // A run killed mid-write leaves a torn last record: it is reported and run again, and the
    // new record gets a line of its own.
    let whole = records();
    let last = whole.lines().last().unwrap().to_string();
    std::fs::write(out.join("records.jsonl"), format!("{}{}", &whole[..whole.len() - last.len() - 1], &last[..last.len() / 2])).unwrap();
    let (ok, _, err) = cospec(&args);
    assert!(ok && err.contains("14 done, 1 to run") && err.contains("skipped 1 unreadable line(s) (numbers [15])"), "{err}");
    let parsed = records().lines().filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()).count();
    assert_eq!(parsed, 15, "the torn line alone is lost:\n{}", records());
    // Another setup into the same folder is refused; the reserved split needs an explicit flag.
    let mut other = args.to_vec();
    let at = other.len() - 5;
    other[at] = "20";
    let (ok, _, err) = cospec(&other);
    assert!(!ok && err.contains("another setup"), "{err}");
    let mut test_split = args.to_vec();
    test_split.extend(["--split", "test"]);
    let (ok, _, err) = cospec(&test_split);
    assert!(!ok && err.contains("reserved"), "{err}");
}

/// A rule's tuning grid runs as one mode a point on the train split, and the best point per
/// rule lands in tuned.json with the modes to score once on dev; thresholds set in a mode reach
/// the rule (a point that keeps every mismatch and one that keeps none).
#[test]
fn eval_tunes_a_rules_thresholds_on_train() {
    let (tp, dp) = tiny_pair("tune-", 29, 0.6);
    let pf = problems_file("tune-problems.jsonl", 0..3, 1);
    let out = pf.parent().unwrap().join("tune-out");
    let _ = std::fs::remove_dir_all(&out);
    let args = [
        "eval", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(), "--split", "train",
        "--modes", "spd,grid:chow,cospec:diff=-1,cospec:diff=2", "--max-tokens", "12", "-k", "3", "--lockstep", "3", "--timed", "0", "--out", out.to_str().unwrap(),
    ];
    let (ok, table, err) = cospec(&args);
    assert!(ok, "{err}");
    for row in ["| cospec:chow=0.1 |", "| cospec:chow=0.2 |", "| cospec:chow=0.3 |", "| cospec:chow=0.5 |", "| cospec:diff=-1 |", "| cospec:diff=2 |"] {
        assert!(table.contains(row), "missing row {row}:\n{table}");
    }
    let rows: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("table.json")).unwrap()).unwrap();
    let kept = |mode: &str| rows["rows"].as_array().unwrap().iter().find(|r| r["mode"] == mode).unwrap()["keep_share"].as_f64().unwrap();
    // diff keeps when max q >= max p - alpha: always at alpha 2, never at -1.
    assert_eq!((kept("cospec:diff=2"), kept("cospec:diff=-1")), (1.0, 0.0), "{table}");
    let tuned: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("tuned.json")).unwrap()).unwrap();
    let picks = tuned["picks"].as_array().unwrap();
    assert_eq!(picks.iter().map(|p| p["rule"].as_str().unwrap()).collect::<Vec<_>>(), ["chow", "diff"], "{tuned}");
    assert_eq!((picks[0]["points"].as_u64(), picks[1]["points"].as_u64(), tuned["problems"].as_u64()), (Some(4), Some(2), Some(3)));
    assert!(err.contains("score them once on dev: --split dev --modes target-only,spd,cospec:chow="), "{err}");
    let (ok, _, err) = cospec(&["eval", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(), "--split", "train", "--modes", "grid:target"]);
    assert!(!ok && err.contains("no grid for \"target\""), "{err}");
}

#[test]
fn train_arbiter_collects_resumes_and_writes_a_usable_arbiter() {
    let (tp, dp) = tiny_pair("train-", 25, 0.8);
    let pf = problems_file("train-problems.jsonl", (0..4).chain(60..62), 2);
    let out = pf.parent().unwrap().join("arbiter.safetensors");
    let rollouts = pf.parent().unwrap().join("arbiter.rollouts.jsonl");
    let _ = std::fs::remove_file(&rollouts);
    let _ = std::fs::remove_file(rollouts.with_extension("dev.jsonl"));
    let dev_eval = out.with_extension("dev-eval");
    let _ = std::fs::remove_dir_all(&dev_eval);
    let args = [
        "train-arbiter", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(),
        "--out", out.to_str().unwrap(), "--rounds", "2", "--problems-per-round", "2", "--dev-problems", "2",
        "--max-tokens", "16", "-k", "3", "--epochs", "50",
    ];
    // Draining at once: no trajectory starts, nothing is written or fitted, and it says so.
    let mut drained = args.to_vec();
    drained.extend(["--drain-after", "0"]);
    let (ok, _, err) = cospec(&drained);
    assert!(ok && err.contains("round 1 stopped after writing 0 of the 2 problems it had left"), "{err}");
    assert!(!err.contains("round 1:") && std::fs::read_to_string(&rollouts).unwrap_or_default().is_empty(), "{err}");
    // A bad weight decay is refused before any model is read.
    let mut bad = args.to_vec();
    bad.push("--weight-decay=0.01,-1");
    let (ok, _, err) = cospec(&bad);
    assert!(!ok && err.contains("--weight-decay takes one or more finite values >= 0"), "{err}");
    let (ok, stdout, err) = cospec(&args);
    assert!(ok, "{err}");
    assert!(err.contains("round 1:") && err.contains("round 2:"), "{err}");
    // The default list of weight decays is scored by cross-validation; the arbiter records the choice.
    assert!(err.contains("round 2: cross-validated agreement by weight decay (inf: the constant rule) 0.0001:"), "{err}");
    assert!(stdout.contains("agreement with the oracle branch choice"), "{stdout}");
    // The learned policy's accuracy and speed on the dev problems, beside target-only and SPD.
    for row in ["| target-only |", "| spd |", "| cospec:learned |"] {
        assert!(stdout.contains(row), "no {row} row in\n{stdout}");
    }
    assert_eq!(std::fs::read_to_string(dev_eval.join("records.jsonl")).unwrap().lines().count(), 6);
    let lines = std::fs::read_to_string(&rollouts).unwrap().lines().count();
    assert!(lines >= 4, "{lines} rollout records");
    let mlp = cospec::decode::arbiter::Mlp::from_safetensors(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(mlp.hidden(), 32);
    // safetensors: a little-endian u64 header length, then the JSON header with the metadata.
    let bytes = std::fs::read(&out).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let meta = &header["__metadata__"];
    let scored: Vec<&str> = meta["cv_by_weight_decay"].as_str().map(|g| g.split(',').collect()).unwrap_or_default();
    // The four default decays and the constant rule (decay inf).
    assert_eq!(scored.len(), 5, "{meta}");
    assert!(scored[4].starts_with("inf:"), "{meta}");
    assert!(meta["weight_decay"].as_str().is_some_and(|d| scored.iter().any(|s| s.starts_with(&format!("{d}:")))), "{meta}");
    // Folds keep a template's variants together unless told otherwise.
    assert_eq!(meta["cv_groups"].as_str(), Some("template"), "{meta}");
    assert!(err.contains("folds by template"), "{err}");
    // Re-running collects nothing new, and refits the same arbiter to the same bytes: the dev
    // eval keeps its learned records.
    let arbiter = std::fs::read(&out).unwrap();
    let (ok, _, err) = cospec(&args);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(&rollouts).unwrap().lines().count(), lines);
    assert!(std::fs::read(&out).unwrap() == arbiter, "the same rollouts fitted another file");
    assert!(err.contains("6 done, 0 to run"), "{err}");
    // A rollout torn by a killed run is reported and left out: the fit is the same.
    std::fs::OpenOptions::new().append(true).open(&rollouts).and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"problem\":\"t0")).unwrap();
    let (ok, _, err) = cospec(&args);
    assert!(ok && err.contains(&format!("skipped 1 unreadable line(s) (numbers [{}])", lines + 1)), "{err}");
    assert!(std::fs::read(&out).unwrap() == arbiter, "a torn line changed the fit");
    // The arbiter drives a cospec run through the WGSL kernel.
    let (ok, _, err) = cospec(&["run", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--prompt", "Add", "--max-tokens", "12", "--mode", "cospec", "--policy", "learned", "--arbiter", out.to_str().unwrap()]);
    assert!(ok && err.contains("cospec (learned"), "{err}");
    // Round 1 refitted from a file that already holds round 2 fits round 1's rollouts only, as
    // it did when round 2 was not collected yet (and as a slower shard must while a faster one
    // appends the next round).
    let round_one = std::fs::read_to_string(&rollouts)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["round"] == 1 && r["features"].as_array().is_some_and(|f| !f.is_empty()))
        .count();
    let refit = out.with_extension("round1.safetensors");
    let mut again: Vec<&str> = args.to_vec();
    for (flag, value) in [("--out", refit.to_str().unwrap()), ("--rounds", "1"), ("--dev-problems", "0")] {
        let at = again.iter().position(|a| *a == flag).unwrap() + 1;
        again[at] = value;
    }
    again.extend(["--rollouts", rollouts.to_str().unwrap()]);
    let (ok, _, err) = cospec(&again);
    assert!(ok && err.contains(&format!("round 1: {round_one} rollouts")), "expected {round_one} round-1 rollouts:\n{err}");
}

/// Starts every argument list as its own process at once and waits for all.
fn cospec_side_by_side(runs: &[Vec<String>]) {
    let children: Vec<_> = runs
        .iter()
        .map(|args| Command::new(env!("CARGO_BIN_EXE_cospec")).args(args).env("XDG_RUNTIME_DIR", "/tmp").stderr(std::process::Stdio::piped()).spawn().unwrap())
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn with_shard(args: &[&str], shard: &str) -> Vec<String> {
    args.iter().map(|s| s.to_string()).chain(["--shard".to_string(), shard.to_string()]).collect()
}

#[test]
fn eval_shards_side_by_side_give_the_records_of_one_process() {
    let (tp, dp) = tiny_pair("shard-", 27, 0.6);
    let pf = problems_file("shard-problems.jsonl", 60..65, 2);
    let (one, sharded) = (pf.parent().unwrap().join("shard-one"), pf.parent().unwrap().join("shard-three"));
    for d in [&one, &sharded] {
        let _ = std::fs::remove_dir_all(d);
    }
    let args = |out: &std::path::Path| -> Vec<String> {
        ["eval", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(),
         "--modes", "target-only,spd,cospec:entropy", "--max-tokens", "10", "-k", "3", "--out", out.to_str().unwrap()]
            .map(String::from).to_vec()
    };
    let a = args(&sharded);
    let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    // Shard 0 alone takes problems 0 and 3; --table-only then tables those and runs nothing.
    let (ok, _, err) = cospec(&with_shard(&a, "0/3").iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert!(ok && err.contains("2 problems (shard 0/3) x 3 modes: 0 done, 6 to run"), "{err}");
    assert!(!sharded.join("table.md").exists(), "a shard wrote the table before the others finished");
    let mut only = a.clone();
    only.push("--table-only");
    let (ok, partial, err) = cospec(&only);
    assert!(ok && partial.contains("2 problems (of 5 selected") && partial.contains("/2 = "), "{partial}\n{err}");
    assert_eq!(std::fs::read_to_string(sharded.join("records.jsonl")).unwrap().lines().count(), 6);
    cospec_side_by_side(&(0..3).map(|i| with_shard(&a, &format!("{i}/3"))).collect::<Vec<_>>());
    let (ok, _, err) = cospec(&a);
    assert!(ok && err.contains("15 done, 0 to run"), "{err}");
    assert!(sharded.join("table.md").exists());
    let b = args(&one);
    let (ok, _, err) = cospec(&b.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert!(ok, "{err}");
    // The same (mode, problem) results whatever the cut; only the timings differ.
    let results = |dir: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_to_string(dir.join("records.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut r: serde_json::Value = serde_json::from_str(l).expect("every line whole");
                r.as_object_mut().unwrap().remove("seconds");
                r.to_string()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(results(&sharded), results(&one));
    let (ok, _, err) = cospec(&with_shard(&a, "3/3").iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert!(!ok && err.contains("shard"), "{err}");
}

#[test]
fn train_arbiter_shards_side_by_side_fit_the_arbiter_of_one_process() {
    let (tp, dp) = tiny_pair("tshard-", 29, 0.8);
    let pf = problems_file("tshard-problems.jsonl", (0..4).chain(60..63), 3);
    let dir = pf.parent().unwrap();
    let args = |name: &str| -> Vec<String> {
        let out = dir.join(format!("{name}.safetensors"));
        for ext in ["rollouts.jsonl", "rollouts.dev.jsonl", "safetensors"] {
            let _ = std::fs::remove_file(dir.join(format!("{name}.{ext}")));
        }
        ["train-arbiter", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(),
         "--out", out.to_str().unwrap(), "--rounds", "2", "--problems-per-round", "3", "--dev-problems", "3",
         "--max-tokens", "16", "-k", "3", "--epochs", "50"]
            .map(String::from).to_vec()
    };
    let one = args("tshard-one");
    let (ok, _, err) = cospec(&one.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert!(ok, "{err}");
    let sharded = args("tshard-two");
    let s: Vec<&str> = sharded.iter().map(|s| s.as_str()).collect();
    cospec_side_by_side(&[with_shard(&s, "0/2"), with_shard(&s, "1/2")]);
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let mlp = |name: &str| cospec::decode::arbiter::Mlp::from_safetensors(&read(name)).unwrap();
    assert!(mlp("tshard-two.safetensors") == mlp("tshard-one.safetensors"), "shards fitted another arbiter");
    let sorted = |name: &str| {
        let mut v: Vec<String> = String::from_utf8(read(name)).unwrap().lines().map(String::from).collect();
        v.sort();
        v
    };
    assert!(sorted("tshard-one.rollouts.jsonl").len() >= 6, "too few rollouts to compare");
    assert_eq!(sorted("tshard-two.rollouts.jsonl"), sorted("tshard-one.rollouts.jsonl"));
    assert_eq!(sorted("tshard-two.rollouts.dev.jsonl"), sorted("tshard-one.rollouts.dev.jsonl"));
    // Trajectories and branches decoded in lock step: the same rollouts, the same arbiter.
    let mut lock = args("tshard-lock");
    lock.extend(["--lockstep".to_string(), "3".to_string()]);
    let (ok, _, err) = cospec(&lock.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert!(ok, "{err}");
    assert_eq!(sorted("tshard-lock.rollouts.jsonl"), sorted("tshard-one.rollouts.jsonl"));
    assert_eq!(sorted("tshard-lock.rollouts.dev.jsonl"), sorted("tshard-one.rollouts.dev.jsonl"));
    assert!(mlp("tshard-lock.safetensors") == mlp("tshard-one.safetensors"), "lock step fitted another arbiter");
}

#[test]
fn eval_in_lock_step_gives_the_records_of_one_at_a_time() {
    let (tp, dp) = tiny_pair("lock-", 31, 0.6);
    let problems = (60..66)
        .map(|i| format!(r#"{{"template": {i}, "variant": 0, "split": "dev", "question": "How many is {i} and {}?", "answer": "{}"}}"#, i % 7, i + i % 7))
        .collect::<Vec<_>>()
        .join("\n");
    let pf = tiny_file("lock-problems.jsonl", problems.as_bytes());
    let (one, lock) = (pf.parent().unwrap().join("lock-one"), pf.parent().unwrap().join("lock-three"));
    let run = |out: &std::path::Path, extra: &[&str]| {
        let _ = std::fs::remove_dir_all(out);
        let mut args = vec!["eval", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(),
            "--modes", "draft-only,target-only,spd,cospec:entropy,cospec:draft", "--entropy-tau", "4.5", "--max-tokens", "14", "-k", "3", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let (ok, table, err) = cospec(&args);
        assert!(ok, "{err}");
        (table, err)
    };
    run(&one, &[]);
    // One problem alone (timed), then the other five in one queue through three lanes.
    let (table, log) = run(&lock, &["--lockstep", "3", "--timed", "1"]);
    // The queue reports as it goes and at the end how full its blocks were: more tokens a step
    // than lanes only where CoSpec jobs rode SPD's lanes (tokens computed once, counted for
    // each job).
    let per_step: Vec<f64> = log
        .lines()
        .filter(|l| l.contains("lock-step steps"))
        .map(|l| l.split(", ").nth(2).and_then(|x| x.split(' ').next()).and_then(|x| x.parse().ok()).unwrap_or_else(|| panic!("{l}")))
        .collect();
    assert!(per_step.len() >= 2, "{log}");
    assert!(log.lines().filter(|l| l.contains("lock-step steps")).all(|l| l.contains(" ms a step, ")), "{log}");
    assert!(*per_step.last().unwrap() > 3.0, "no CoSpec job rode an SPD lane: {log}");
    assert!(table.contains("over the 1 of 6 problems every mode decoded there one at a time"), "{table}");
    let results = |dir: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_to_string(dir.join("records.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut r: serde_json::Value = serde_json::from_str(l).unwrap();
                let o = r.as_object_mut().unwrap();
                o.remove("seconds");
                o.remove("timed");
                r.to_string()
            })
            .collect();
        v.sort();
        v
    };
    let (a, b) = (results(&lock), results(&one));
    assert_eq!(a.len(), 30);
    assert_eq!(a, b, "lock step changed a generation");
    assert!(a.iter().any(|r| !r.contains("\"mismatches\":0")), "no mismatches to replay");
    // Target-only's records come along SPD's passes; lost ones, with SPD's kept, run on their own.
    let path = lock.join("records.jsonl");
    let kept: Vec<String> = std::fs::read_to_string(&path).unwrap().lines().filter(|l| !l.contains("\"target-only\"") || l.contains("\"timed\":true")).map(String::from).collect();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    let mut again = vec!["eval", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(),
        "--modes", "draft-only,target-only,spd,cospec:entropy,cospec:draft", "--entropy-tau", "4.5", "--max-tokens", "14", "-k", "3", "--out", lock.to_str().unwrap()];
    again.extend(["--lockstep", "3", "--timed", "1"]);
    let (ok, _, err) = cospec(&again);
    assert!(ok && err.contains("25 done, 5 to run"), "{err}");
    assert_eq!(results(&lock), b, "target-only alone in lock step changed a generation");
    // Records gathered from another device: this one times its own --timed problems among those
    // not yet begun (t65v0 here), for speed columns of one adapter.
    let other: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"t65v0\""))
        .map(|l| {
            let mut r: serde_json::Value = serde_json::from_str(l).unwrap();
            r["adapter"] = "Another GPU (Vulkan)".into();
            r.to_string()
        })
        .collect();
    std::fs::write(&path, other.join("\n") + "\n").unwrap();
    let (ok, _, err) = cospec(&again);
    assert!(ok && err.contains("25 done, 5 to run"), "{err}");
    let redone: Vec<serde_json::Value> =
        std::fs::read_to_string(&path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).filter(|r: &serde_json::Value| r["problem"] == "t65v0").collect();
    assert_eq!(redone.len(), 5);
    assert!(redone.iter().all(|r| r["timed"] == true && r["adapter"] != "Another GPU (Vulkan)"), "{redone:?}");
    // Past --drain-after no generation starts (the queue's drain itself: tests/lockstep.rs).
    std::fs::write(&path, other.join("\n") + "\n").unwrap();
    let drained: Vec<&str> = again.iter().copied().chain(["--drain-after", "0"]).collect();
    let (ok, _, err) = cospec(&drained);
    assert!(ok && err.contains("25 done, 5 to run") && err.contains("0 records of 5 written, a re-run goes on"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 25);
    let (ok, _, err) = cospec(&["eval", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(), "--lockstep", "0", "--out", lock.to_str().unwrap()]);
    assert!(!ok && err.contains("--lockstep 0"), "{err}");
    let negative: Vec<&str> = again.iter().copied().chain(["--drain-after=-5"]).collect();
    let (ok, _, err) = cospec(&negative);
    assert!(!ok && err.contains("--drain-after -5: a number of seconds"), "{err}");
}

#[test]
fn eval_reruns_the_learned_mode_when_its_arbiter_changes() {
    let (tp, dp) = tiny_pair("relearn-", 37, 0.6);
    let pf = problems_file("relearn-problems.jsonl", 60..63, 4);
    let dir = pf.parent().unwrap();
    let arbiter = dir.join("relearn-arbiter.safetensors");
    let write_arbiter = |seed: u64| {
        let mlp = cospec_tests::random_mlp(8, &mut cospec_tests::blocks::rng(seed));
        std::fs::write(&arbiter, mlp.to_safetensors(&Default::default()).unwrap()).unwrap();
    };
    let out = dir.join("relearn-eval");
    let _ = std::fs::remove_dir_all(&out);
    let args = [
        "eval", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(), "--split", "dev",
        "--modes", "spd,cospec:learned", "--arbiter", arbiter.to_str().unwrap(), "--max-tokens", "12", "-k", "3", "--out", out.to_str().unwrap(),
    ];
    let learned_lines = || std::fs::read_to_string(out.join("records.jsonl")).unwrap().lines().filter(|l| l.contains("cospec:learned")).count();
    write_arbiter(1);
    let (ok, _, err) = cospec(&args);
    assert!(ok, "{err}");
    assert_eq!(learned_lines(), 3);
    let (ok, _, err) = cospec(&args);
    assert!(ok && err.contains("6 done, 0 to run"), "{err}");
    // A retrained arbiter at the same path: its mode runs again, SPD's records stay.
    write_arbiter(2);
    let (ok, table, err) = cospec(&args);
    assert!(ok && err.contains("3 learned-policy records of another arbiter set aside") && err.contains("3 done, 3 to run"), "{err}");
    assert_eq!(learned_lines(), 6);
    assert!(table.contains("3 problems") && !table.contains("/6 = "), "the table mixes arbiters:\n{table}");
}

/// Runs `cospec args` 20 times, each killed with SIGKILL after a delay spread over `full_ms`
/// (one whole run's time; a fixed scramble, so a failure repeats).
fn kill_repeatedly(args: &[String], full_ms: u64) {
    for i in 0..20u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cospec"))
            .args(args)
            .env("XDG_RUNTIME_DIR", "/tmp")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis((i * 7919) % full_ms.max(1)));
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `eval` killed with SIGKILL at 20 moments spread over its run (loading, mid-generation,
/// mid-write) and started again each time ends with the records and table of an uninterrupted
/// run: every (mode, problem) once, the same texts and counts, the same accuracy columns
/// (timings aside, which no two runs share).
#[test]
fn eval_killed_at_random_moments_resumes_to_the_uninterrupted_result() {
    let (tp, dp) = tiny_pair("kill-", 31, 0.6);
    let pf = problems_file("kill-problems.jsonl", 60..66, 2);
    let args = |out: &std::path::Path| -> Vec<String> {
        [
            "eval", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(),
            "--modes", "target-only,spd,cospec:entropy", "--max-tokens", "16", "-k", "3", "--out", out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let dir = pf.parent().unwrap();
    let (whole, killed) = (dir.join("kill-whole"), dir.join("kill-killed"));
    for d in [&whole, &killed] {
        let _ = std::fs::remove_dir_all(d);
    }
    let bin = env!("CARGO_BIN_EXE_cospec");
    let started = std::time::Instant::now();
    let ok = Command::new(bin).args(args(&whole)).env("XDG_RUNTIME_DIR", "/tmp").output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let full_ms = started.elapsed().as_millis() as u64;
    kill_repeatedly(&args(&killed), full_ms);
    let done = std::fs::read_to_string(killed.join("records.jsonl")).map(|t| t.lines().count()).unwrap_or(0);
    eprintln!("one run {full_ms} ms; {done} records written across the 20 killed runs");
    let last = Command::new(bin).args(args(&killed)).env("XDG_RUNTIME_DIR", "/tmp").output().unwrap();
    assert!(last.status.success(), "{}", String::from_utf8_lossy(&last.stderr));
    // Records, keyed by (mode, problem), without the fields a run's timing decides.
    let records = |d: &std::path::Path| -> std::collections::BTreeMap<(String, String), serde_json::Value> {
        let text = std::fs::read_to_string(d.join("records.jsonl")).unwrap();
        let mut map = std::collections::BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(mut v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            for timing in ["seconds", "timed", "adapter"] {
                v.as_object_mut().unwrap().remove(timing);
            }
            let key = (v["mode"].as_str().unwrap().to_string(), v["problem"].as_str().unwrap().to_string());
            assert!(map.insert(key.clone(), v).is_none(), "{key:?} recorded twice in {}", d.display());
        }
        map
    };
    let (a, b) = (records(&whole), records(&killed));
    assert_eq!(a.len(), 18, "3 modes x 6 problems");
    assert_eq!(a, b, "records after 20 kills differ from an uninterrupted run's");
    let columns = |d: &std::path::Path| -> Vec<serde_json::Value> {
        let t: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("table.json")).unwrap()).unwrap();
        let keep = ["mode", "accuracy", "correct", "problems", "mismatches_per_100", "keep_share", "tokens_per_target_pass", "wrong_to_right", "right_to_wrong", "mcnemar_p"];
        t["rows"].as_array().unwrap().iter().map(|r| serde_json::Value::Object(keep.iter().map(|k| (k.to_string(), r[*k].clone())).collect())).collect()
    };
    assert_eq!(columns(&whole), columns(&killed));
}

/// `train-arbiter` killed with SIGKILL at 20 moments spread over its run and started again
/// each time writes the arbiter an uninterrupted run writes, from the same rollouts.
#[test]
fn train_arbiter_killed_at_random_moments_resumes_to_the_uninterrupted_arbiter() {
    let (tp, dp) = tiny_pair("trainkill-", 27, 0.8);
    let pf = problems_file("trainkill-problems.jsonl", (0..4).chain(60..62), 2);
    let dir = pf.parent().unwrap().to_path_buf();
    let args = |name: &str| -> Vec<String> {
        let out = dir.join(format!("{name}.safetensors"));
        for f in [out.clone(), out.with_extension("rollouts.jsonl"), out.with_extension("dev.jsonl")] {
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_dir_all(out.with_extension("dev-eval"));
        [
            "train-arbiter", "--draft", dp.to_str().unwrap(), "--target", tp.to_str().unwrap(), "--problems", pf.to_str().unwrap(),
            "--out", out.to_str().unwrap(), "--rounds", "2", "--problems-per-round", "2", "--dev-problems", "2",
            "--max-tokens", "16", "-k", "3", "--epochs", "50",
        ]
        .map(String::from)
        .to_vec()
    };
    let bin = env!("CARGO_BIN_EXE_cospec");
    let run = |a: &[String]| Command::new(bin).args(a).env("XDG_RUNTIME_DIR", "/tmp").output().unwrap();
    let started = std::time::Instant::now();
    let whole = run(&args("trainkill-whole"));
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let full_ms = started.elapsed().as_millis() as u64;
    let killed = args("trainkill-killed");
    kill_repeatedly(&killed, full_ms);
    let last = run(&killed);
    assert!(last.status.success(), "{}", String::from_utf8_lossy(&last.stderr));
    let rollouts = |name: &str| -> std::collections::BTreeSet<String> {
        let text = std::fs::read_to_string(dir.join(format!("{name}.rollouts.jsonl"))).unwrap();
        text.lines().filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()).map(String::from).collect()
    };
    assert_eq!(rollouts("trainkill-whole"), rollouts("trainkill-killed"), "rollouts after 20 kills differ");
    let arbiter = |name: &str| std::fs::read(dir.join(format!("{name}.safetensors"))).unwrap();
    assert!(arbiter("trainkill-whole") == arbiter("trainkill-killed"), "the arbiter after 20 kills differs from an uninterrupted run's");
}
