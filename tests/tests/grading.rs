//! Final-answer extraction and numeric grading on the tricky forms models write.

use cospec::eval::grading::{extract_answer, is_correct};

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
