//! Every fuzz target on its seed corpus and on seeded mutations of it, for a few seconds each
//! (scripts/fuzz.sh runs them coverage-guided for as long as asked): no input may panic, and
//! none may take longer than a second.

use cospec_tests::fuzz::{corpus, run_mutations, TARGETS};

/// Every input a fuzzer ever crashed on (fuzz/regressions/TARGET/*) runs clean.
#[test]
fn past_findings_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut ran = 0;
    for (name, target) in TARGETS {
        let Ok(entries) = std::fs::read_dir(dir.join(name)) else { continue };
        for e in entries {
            let path = e.unwrap().path();
            let input = std::fs::read(&path).unwrap();
            target(&input);
            ran += 1;
        }
    }
    assert!(ran > 0, "no regression inputs under {}", dir.display());
}

#[test]
fn every_parser_survives_mutations_of_its_seeds() {
    let mut failures = Vec::new();
    for (i, (name, target)) in TARGETS.iter().enumerate() {
        let seeds = corpus(name);
        assert!(!seeds.is_empty(), "fuzz/corpus/{name} is empty");
        let found = run_mutations(*target, &seeds, 0xF022 + i as u64, 20_000, 4.0, 1.0);
        eprintln!("{name}: {} executions, {} crashes, {} slow", found.executions, found.crashes.len(), found.slow.len());
        for (input, msg) in found.crashes.iter().take(3) {
            failures.push(format!("{name}: panic {msg:?} on {} bytes: {:?}", input.len(), String::from_utf8_lossy(&input[..input.len().min(200)])));
        }
        for (input, secs) in found.slow.iter().take(3) {
            failures.push(format!("{name}: {secs:.2} s on {} bytes: {:?}", input.len(), String::from_utf8_lossy(&input[..input.len().min(200)])));
        }
    }
    assert!(failures.is_empty(), "{} findings:\n{}", failures.len(), failures.join("\n"));
}

/// The seeds are inputs the parsers accept, so mutations start from deep inside them.
#[test]
fn the_seeds_are_valid_inputs() {
    use cospec::formats::ModelFile;
    use cospec::model::ModelConfig;
    use cospec::platform::blob_from_vec;
    use cospec::tokenizer::Tokenizer;
    for seed in corpus("gguf") {
        let f = ModelFile::from_gguf(blob_from_vec(seed)).unwrap();
        ModelConfig::from_file(&f).unwrap();
        Tokenizer::from_gguf(&f).unwrap();
    }
    for seed in corpus("hf") {
        let i = seed.iter().position(|&b| b == 0).unwrap();
        let f = ModelFile::from_hf_parts(std::str::from_utf8(&seed[..i]).unwrap(), None, None, vec![blob_from_vec(seed[i + 1..].to_vec())]).unwrap();
        ModelConfig::from_file(&f).unwrap();
    }
    for seed in corpus("tokenizer_json") {
        let t = Tokenizer::from_json(std::str::from_utf8(&seed).unwrap()).unwrap();
        assert!(!t.encode("ab a").unwrap().is_empty());
    }
    for seed in corpus("arbiter") {
        cospec::decode::arbiter::Mlp::from_safetensors(&seed).unwrap();
    }
    for seed in corpus("rollouts") {
        let loaded = cospec_eval::jsonl::parse::<cospec_eval::rollouts::Rollout>(std::str::from_utf8(&seed).unwrap());
        assert_eq!((loaded.items.len(), loaded.unreadable.len()), (3, 1), "three records and a torn line");
    }
}
