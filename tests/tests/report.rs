//! The eval table over records gathered from several sessions and devices: accuracy over every
//! problem each mode finished, speed from one adapter's problems decoded alone.

use cospec_eval::report::{markdown, rows, Record};

fn record(mode: &str, problem: &str, correct: bool, tokens: usize, seconds: f64, timed: bool, adapter: Option<&str>) -> Record {
    Record {
        mode: mode.into(),
        problem: problem.into(),
        correct,
        extracted: None,
        answer: "1".into(),
        tokens,
        seconds,
        target_passes: tokens,
        mismatches: 0,
        keeps: 0,
        text: String::new(),
        timed,
        arbiter: None,
        adapter: adapter.map(str::to_string),
    }
}

fn modes() -> Vec<String> {
    vec!["target-only".into(), "spd".into()]
}

#[test]
fn speed_comes_from_the_adapter_with_the_most_timed_problems() {
    let (gpu, cpu) = (Some("GPU (Vulkan)"), Some("llvmpipe (Vulkan)"));
    let mut recs = Vec::new();
    // Two problems timed on the GPU, one on the CPU, one in lock step on the GPU, and one whose
    // modes were timed on different adapters (not comparable: left out of the speed).
    for (p, timed, adapter, secs) in [("a", true, gpu, 1.0), ("b", true, gpu, 3.0), ("c", true, cpu, 100.0), ("d", false, gpu, 0.0)] {
        recs.push(record("target-only", p, p != "b", 100, secs, timed, adapter));
        recs.push(record("spd", p, true, 100, secs / 2.0, timed, adapter));
    }
    recs.push(record("target-only", "e", false, 100, 1000.0, true, gpu));
    recs.push(record("spd", "e", false, 100, 1000.0, true, cpu));
    let table = rows(&recs, &modes());
    let (target, spd) = (&table[0], &table[1]);
    assert_eq!((target.problems, target.correct, spd.correct), (5, 3, 4));
    assert_eq!(target.speed_adapter.as_deref(), gpu);
    assert_eq!(target.timed_problems, 2);
    assert!((target.tok_per_s - 200.0 / 4.0).abs() < 1e-9, "{}", target.tok_per_s);
    assert!((spd.tok_per_s - 200.0 / 2.0).abs() < 1e-9, "{}", spd.tok_per_s);
    assert!((spd.speedup_vs_target_only.unwrap() - 2.0).abs() < 1e-9);
    let md = markdown(&table, "t");
    assert!(md.contains("on GPU (Vulkan), over the 2 of 5 problems"), "{md}");
}

#[test]
fn ties_go_to_the_first_adapter_by_name_and_no_timed_problem_means_no_speed() {
    let mut recs = Vec::new();
    for (p, adapter) in [("a", "B"), ("b", "A")] {
        for m in modes() {
            recs.push(record(&m, p, true, 10, 1.0, true, Some(adapter)));
        }
    }
    let table = rows(&recs, &modes());
    assert_eq!(table[0].speed_adapter.as_deref(), Some("A"));
    assert_eq!(table[0].timed_problems, 1);

    for r in &mut recs {
        r.timed = false;
    }
    let table = rows(&recs, &modes());
    assert_eq!(table[0].timed_problems, 0);
    assert!(table[0].tok_per_s.is_nan() && table[1].speedup_vs_target_only.is_none());
    assert!(!markdown(&table, "t").contains("tok/s and speed-up"));
}
