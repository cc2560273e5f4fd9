//! Table-driven kernel tests collect every failing case and fail once with the whole list, so
//! one wrong case never hides the others (a driver that gets one case wrong often gets a
//! family of them wrong, and the pattern is the diagnosis).

use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};

#[derive(Default)]
#[must_use = "call finish() to fail the test on the collected cases"]
pub struct Failures {
    cases: Vec<String>,
    checks: usize,
}

impl Failures {
    pub fn new() -> Failures {
        Failures::default()
    }

    /// Records `what()` as a failed case unless `ok`; returns `ok`.
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) -> bool {
        self.checks += 1;
        if !ok {
            self.cases.push(what());
        }
        ok
    }

    /// Runs one case; a panic inside it (an unwrap, a device error) is recorded as that case's
    /// failure and the table goes on.
    pub fn case(&mut self, name: impl Display, f: impl FnOnce(&mut Failures)) {
        let mut inner = Failures::new();
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut inner)));
        self.checks += inner.checks;
        self.cases.extend(inner.cases);
        if let Err(panic) = outcome {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            self.checks += 1;
            self.cases.push(format!("{name}: panicked: {msg}"));
        }
    }

    /// Fails with every recorded case, one a line; also fails a table that checked nothing.
    pub fn finish(self) {
        assert!(self.checks > 0, "the table checked nothing");
        if !self.cases.is_empty() {
            panic!("{} of {} checks failed:\n  {}", self.cases.len(), self.checks, self.cases.join("\n  "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_failure_and_survives_a_panicking_case() {
        let mut f = Failures::new();
        f.check(true, || "never".into());
        f.check(false, || "first".into());
        f.case("boom", |_| panic!("inner"));
        f.case("later", |g| {
            g.check(false, || "second".into());
        });
        let err = catch_unwind(AssertUnwindSafe(|| f.finish())).expect_err("must fail");
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.starts_with("3 of 4 checks failed"), "{msg}");
        for part in ["first", "boom: panicked: inner", "second"] {
            assert!(msg.contains(part), "{msg}");
        }
        let mut ok = Failures::new();
        ok.check(true, String::new);
        ok.finish();
        assert!(catch_unwind(|| Failures::new().finish()).is_err(), "an empty table passed");
    }
}
