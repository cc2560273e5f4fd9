//! Final-answer extraction and numeric grading on the tricky forms models write.

use cospec_eval::grading::{extract_answer, is_correct};

#[test]
fn extracts_the_committed_number() {
    let cases: &[(&str, Option<f64>)] = &[
        ("So the total is \\boxed{42}.", Some(42.0)),
        ("First 3 + 4 = 7, then \\boxed{1,234} dollars", Some(1234.0)),
        ("The answer is $1,250.00.", Some(1250.0)),
        ("Natalia sold 48/2 = 24 clips in May.\n#### 72", Some(72.0)),
        ("He earns 12 * 5 = 60. The answer is 60 dollars.", Some(60.0)),
        ("\\boxed{\\frac{3}{4}}", Some(0.75)),
        ("\\boxed{3/4}", Some(0.75)),
        ("\\boxed{25\\%}", Some(25.0)),
        ("\\boxed{\\$18}", Some(18.0)),
        ("\\boxed{18 \\text{ eggs}}", Some(18.0)),
        ("The temperature fell to -5 degrees. The answer is -5.", Some(-5.0)),
        ("It takes 2.5 hours.", Some(2.5)),
        ("after 3 steps we have 10. So 10.", Some(10.0)),
        ("Between 1,000 and 2,000,000 there is 1999000", Some(1999000.0)),
        ("x-3 is not negative three: last is 7", Some(7.0)),
        ("no digits at all", None),
        ("\\boxed{} then 5", Some(5.0)),
        ("first \\boxed{3}, corrected: \\boxed{4}", Some(4.0)),
    ];
    for (text, want) in cases {
        assert_eq!(extract_answer(text), *want, "{text:?}");
    }
}

#[test]
fn grades_numerically() {
    assert!(is_correct("\\boxed{18.0}", "18"));
    assert!(is_correct("The answer is 1,000", "1000"));
    assert!(is_correct("#### 0.5", "0.50"));
    assert!(is_correct("\\boxed{\\frac{1}{2}}", "0.5"));
    assert!(!is_correct("\\boxed{17}", "18"));
    assert!(!is_correct("I don't know", "18"));
    assert!(!is_correct("\\boxed{18}", "eighteen"));
    // The last commitment wins over numbers in the working.
    assert!(is_correct("18 + 5 = 23, minus 3 is 20. #### 20", "20"));
    assert!(!is_correct("The answer is 20. Wait, 18 + 5 = 23.", "23"));
}

#[test]
fn rollout_file_round_trip_and_torn_lines() {
    use cospec_eval::rollouts::{append, load, Rollout};
    let dir = std::env::temp_dir().join(format!("cospec-rollouts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rollouts.jsonl");
    let _ = std::fs::remove_file(&path);
    assert!(load(&path).unwrap().is_empty());
    let r = |i: usize| Rollout {
        problem: format!("t{i}v0"),
        round: 1,
        position: i * 3,
        features: (0..14).map(|f| f as f32 * 0.5 + i as f32).collect(),
        reward_keep: (i % 2) as f32,
        reward_take: 1.0,
        tokens_keep: 100 + i,
        tokens_take: 90,
    };
    append(&path, &[r(0), r(1)]).unwrap();
    append(&path, &[r(2)]).unwrap();
    // A run killed mid-write leaves a torn line; the next run's records still load.
    std::fs::OpenOptions::new().append(true).open(&path).and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"problem\":\"t9")).unwrap();
    let got = load(&path).unwrap();
    assert_eq!(got, vec![r(0), r(1), r(2)]);
    // The next run's appends start on a line of their own, not glued onto the fragment.
    append(&path, &[r(3)]).unwrap();
    append(&path, &[r(4)]).unwrap();
    assert_eq!(load(&path).unwrap(), vec![r(0), r(1), r(2), r(3), r(4)]);
    let lines = cospec_eval::jsonl::read::<Rollout>(&path).unwrap();
    assert_eq!(lines.unreadable, vec![4], "only the torn line is unreadable");
    assert_eq!(got[1].sample().features, r(1).features);
}

#[test]
fn problems_parse_split_and_refuse_leaks() {
    use cospec_eval::problems::{parse, select};
    let text = r#"{"template": 61, "variant": 0, "split": "dev", "question": "q61", "answer": "5"}
{"template": 3, "variant": 1, "split": "train", "question": "q3b", "answer": "1,000"}
{"template": 60, "variant": 2, "split": "dev", "question": "q60c", "answer": "2"}
{"template": 60, "variant": 0, "split": "dev", "question": "q60", "answer": "7"}
"#;
    let all = parse(text).unwrap();
    let dev = select(&all, "dev", None);
    assert_eq!(dev.iter().map(|p| p.key()).collect::<Vec<_>>(), ["t60v0", "t61v0", "t60v2"]);
    assert_eq!(select(&all, "dev", Some(2)).len(), 2);
    assert_eq!(select(&all, "train", None).len(), 1);
    let leak = r#"{"template": 85, "variant": 0, "split": "train", "question": "q", "answer": "1"}"#;
    assert!(parse(leak).unwrap_err().contains("test split"));
}

#[test]
fn branch_points_cover_the_whole_trajectory_when_spread() {
    use cospec_eval::rollouts::branch_points;
    assert_eq!(branch_points(10, 4, false), vec![0, 1, 2, 3]);
    assert_eq!(branch_points(3, 4, false), vec![0, 1, 2]);
    assert_eq!(branch_points(3, 4, true), vec![0, 1, 2], "fewer mismatches than branches: all of them");
    assert_eq!(branch_points(0, 4, true), Vec::<usize>::new());
    assert_eq!(branch_points(8, 4, true), vec![1, 3, 5, 7]);
    for total in 5..200 {
        for n in 1..total {
            let p = branch_points(total, n, true);
            assert_eq!(p.len(), n, "{total} mismatches, {n} branches");
            assert!(p.windows(2).all(|w| w[0] < w[1]) && p[n - 1] < total, "{total}, {n}: {p:?}");
            // Each point is the middle of its own n-th of the mismatches, rounded down, so the
            // points reach both ends of the trajectory.
            assert!(p.iter().enumerate().all(|(j, &i)| 2 * n * i <= (2 * j + 1) * total && (2 * j + 1) * total < 2 * n * (i + 1)), "{total}, {n}: {p:?}");
            assert!(2 * n * p[0] <= total && 2 * n * (p[n - 1] + 1) >= (2 * n - 1) * total, "{total}, {n}: {p:?}");
        }
    }
}
