//! The server's request parser and stop-string filter (cospec_cli::fuzz_request) on its seed
//! corpus (fuzz/corpus/serve_request) and on seeded mutations of it, as tests/tests/fuzz_smoke.rs
//! does for the other parsers: no input may panic or take a second. scripts/fuzz.sh
//! serve_request SECONDS runs it coverage-guided.

use cospec_tests::fuzz::{corpus, run_mutations};

#[test]
fn request_bodies_survive_mutations_of_the_seeds() {
    let seeds = corpus("serve_request");
    assert!(seeds.len() >= 4);
    for s in &seeds {
        assert!(cospec_cli::serve_api::parse(&s[1..], s[0] & 1 == 1).is_ok(), "a seed is not a valid request: {}", String::from_utf8_lossy(s));
    }
    let found = run_mutations(cospec_cli::fuzz_request, &seeds, 0x5E2F, 50_000, 6.0, 1.0);
    eprintln!("serve_request: {} executions, {} crashes, {} slow", found.executions, found.crashes.len(), found.slow.len());
    let show = |i: &[u8]| String::from_utf8_lossy(&i[..i.len().min(200)]).to_string();
    assert!(found.crashes.is_empty(), "panics: {:?}", found.crashes.iter().take(3).map(|(i, m)| (show(i), m)).collect::<Vec<_>>());
    assert!(found.slow.is_empty(), "slow: {:?}", found.slow.iter().take(3).map(|(i, s)| (show(i), s)).collect::<Vec<_>>());
}
