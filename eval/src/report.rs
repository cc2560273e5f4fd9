//! The evaluation table: per-problem records of each mode, aggregated into one row per mode
//! (accuracy with a Wilson 95% interval, tok/s, speed-up, tokens per target pass, mismatches
//! per 100 tokens, share kept), flips against target-only with McNemar's exact test, and an
//! SVG plot of accuracy against tok/s.

use std::collections::BTreeMap;

/// One (mode, problem) generation, graded.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub mode: String,
    pub problem: String,
    pub correct: bool,
    pub extracted: Option<f64>,
    pub answer: String,
    pub tokens: usize,
    pub seconds: f64,
    pub target_passes: usize,
    pub mismatches: usize,
    pub keeps: usize,
    /// The generated text, to audit grading and read the flips (absent in older records).
    #[serde(default)]
    pub text: String,
    /// Decoded alone, so `seconds` is its decode time; false for lock-step records (exact
    /// tokens, no time of their own). Older records were all timed.
    #[serde(default = "timed_by_default")]
    pub timed: bool,
    /// For a learned policy: the fingerprint of the arbiter file that decided (see
    /// `fingerprint`); records of another arbiter are not this table's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arbiter: Option<String>,
    /// The adapter that decoded it (tables may gather records of several sessions and
    /// devices; greedy outputs can differ between devices at near-ties). Absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
}

/// A stable fingerprint of bytes (FNV-1a, 64 bits, in hex): identity, not security. Of an
/// arbiter file (a later training round's gets another) or of a split's problems.
pub fn fingerprint(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{hash:016x}")
}

fn timed_by_default() -> bool {
    true
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    pub mode: String,
    pub problems: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub ci95: (f64, f64),
    /// Over the problems every mode decoded alone (NaN when there are none).
    pub tok_per_s: f64,
    pub speedup_vs_target_only: Option<f64>,
    /// Problems behind tok/s and the speed-up.
    pub timed_problems: usize,
    /// The adapter that decoded them (see `speed_problems`); None for records older than the
    /// adapter field.
    pub speed_adapter: Option<String>,
    pub tokens_per_target_pass: f64,
    pub mismatches_per_100: f64,
    pub keep_share: f64,
    /// Against target-only on the same problems: wrong -> right, right -> wrong, McNemar p.
    pub wrong_to_right: Vec<String>,
    pub right_to_wrong: Vec<String>,
    pub mcnemar_p: Option<f64>,
}

/// Wilson score interval for k successes in n trials (95%).
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (z, n_f) = (1.959964f64, n as f64);
    let p = k as f64 / n_f;
    let denom = 1.0 + z * z / n_f;
    let centre = (p + z * z / (2.0 * n_f)) / denom;
    let half = z * ((p * (1.0 - p) + z * z / (4.0 * n_f)) / n_f).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// McNemar's exact two-sided test on the discordant counts b and c (binomial, p = 1/2).
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // P(X <= k) for X ~ Bin(n, 1/2), in log space to stay finite for large n.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64;
    let mut tail = 0.0f64;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

type ByMode<'a> = BTreeMap<&'a str, BTreeMap<&'a str, &'a Record>>;

/// The problems behind the speed columns: those every mode decoded alone (lock-step records
/// have no time of their own), all on one adapter, since a table may gather records of several
/// sessions and devices and their speeds do not mix. Of several adapters, the one with the
/// most such problems (ties: the first by name).
fn speed_problems<'a>(by_mode: &ByMode<'a>, common: &[&'a str], modes: &[String]) -> (Option<String>, Vec<&'a str>) {
    let mut by_adapter: BTreeMap<Option<&str>, Vec<&str>> = BTreeMap::new();
    for &p in common {
        let recs: Vec<&Record> = modes.iter().map(|m| by_mode[m.as_str()][p]).collect();
        let adapter = recs[0].adapter.as_deref();
        if recs.iter().all(|r| r.timed && r.adapter.as_deref() == adapter) {
            by_adapter.entry(adapter).or_default().push(p);
        }
    }
    // max_by_key keeps the last of equals: walk the names backwards so ties go to the first.
    by_adapter.into_iter().rev().max_by_key(|(_, ps)| ps.len()).map(|(a, ps)| (a.map(str::to_string), ps)).unwrap_or((None, Vec::new()))
}

/// One row per mode in `modes` order, over the problems every listed mode has a record for.
pub fn rows(records: &[Record], modes: &[String]) -> Vec<Row> {
    let mut by_mode: ByMode = BTreeMap::new();
    for r in records {
        by_mode.entry(&r.mode).or_default().insert(&r.problem, r);
    }
    let empty = BTreeMap::new();
    let common: Vec<&str> = match modes.first() {
        Some(first) => by_mode
            .get(first.as_str())
            .unwrap_or(&empty)
            .keys()
            .copied()
            .filter(|p| modes.iter().all(|m| by_mode.get(m.as_str()).is_some_and(|x| x.contains_key(p))))
            .collect(),
        None => Vec::new(),
    };
    let baseline = by_mode.get("target-only");
    let (speed_adapter, timed) = speed_problems(&by_mode, &common, modes);
    let tps = |m: &str| -> f64 {
        let recs = &by_mode[m];
        if timed.is_empty() {
            return f64::NAN;
        }
        let (t, s) = timed.iter().fold((0usize, 0f64), |(t, s), p| (t + recs[p].tokens, s + recs[p].seconds));
        t as f64 / s.max(1e-9)
    };
    let has_baseline = modes.iter().any(|m| m == "target-only");
    modes
        .iter()
        .filter(|m| by_mode.contains_key(m.as_str()))
        .map(|m| {
            let recs = &by_mode[m.as_str()];
            let n = common.len();
            let correct = common.iter().filter(|p| recs[*p].correct).count();
            let sum = |f: fn(&Record) -> usize| common.iter().map(|p| f(recs[p])).sum::<usize>();
            let (tokens, passes, mism, keeps) = (sum(|r| r.tokens), sum(|r| r.target_passes), sum(|r| r.mismatches), sum(|r| r.keeps));
            let (mut w2r, mut r2w) = (Vec::new(), Vec::new());
            if let (Some(base), true) = (baseline, m != "target-only") {
                for p in &common {
                    match (base[p].correct, recs[p].correct) {
                        (false, true) => w2r.push(p.to_string()),
                        (true, false) => r2w.push(p.to_string()),
                        _ => {}
                    }
                }
            }
            let compared = has_baseline && m != "target-only";
            Row {
                mode: m.clone(),
                problems: n,
                correct,
                accuracy: correct as f64 / n.max(1) as f64,
                ci95: wilson(correct, n),
                tok_per_s: tps(m),
                speedup_vs_target_only: (has_baseline && !timed.is_empty()).then(|| tps(m) / tps("target-only")),
                timed_problems: timed.len(),
                speed_adapter: speed_adapter.clone(),
                tokens_per_target_pass: if passes == 0 { 0.0 } else { tokens as f64 / passes as f64 },
                mismatches_per_100: 100.0 * mism as f64 / tokens.max(1) as f64,
                keep_share: keeps as f64 / mism.max(1) as f64,
                mcnemar_p: compared.then(|| mcnemar_exact(w2r.len(), r2w.len())),
                wrong_to_right: w2r,
                right_to_wrong: r2w,
            }
        })
        .collect()
}

pub fn markdown(rows: &[Row], title: &str) -> String {
    let mut s = format!("## {title}\n\n| mode | accuracy | 95% CI | tok/s | speed-up vs target-only | tokens/target pass | mismatches/100 tokens | mismatches kept | wrong->right | right->wrong | McNemar p |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        s.push_str(&format!(
            "| {} | {}/{} = {:.1}% | {:.1}-{:.1}% | {} | {} | {:.2} | {:.1} | {:.0}% | {} | {} | {} |\n",
            r.mode,
            r.correct,
            r.problems,
            100.0 * r.accuracy,
            100.0 * r.ci95.0,
            100.0 * r.ci95.1,
            if r.tok_per_s.is_nan() { "-".to_string() } else { format!("{:.2}", r.tok_per_s) },
            r.speedup_vs_target_only.map(|x| format!("{x:.2}x")).unwrap_or_else(|| "-".into()),
            r.tokens_per_target_pass,
            r.mismatches_per_100,
            100.0 * r.keep_share,
            r.wrong_to_right.len(),
            r.right_to_wrong.len(),
            r.mcnemar_p.map(|p| format!("{p:.3}")).unwrap_or_else(|| "-".into()),
        ));
    }
    if let Some(r) = rows.first().filter(|r| r.timed_problems > 0) {
        let on = r.speed_adapter.as_deref().map(|a| format!(" on {a}")).unwrap_or_default();
        s.push_str(&format!("\ntok/s and speed-up{on}, over the {} of {} problems every mode decoded there one at a time", r.timed_problems, r.problems));
        s.push_str(if r.timed_problems < r.problems { "; the rest were decoded in lock step (no time of their own) or timed on another device.\n" } else { ".\n" });
    }
    s
}

/// Accuracy (with its interval) against tok/s, one labelled point per mode.
pub fn svg_plot(rows: &[Row], title: &str) -> String {
    let (w, h, m) = (720.0, 460.0, 70.0);
    // Without timed problems every point sits at 0 tok/s.
    let speed = |r: &Row| if r.tok_per_s.is_nan() { 0.0 } else { r.tok_per_s };
    let max_x = rows.iter().map(speed).fold(0.0f64, f64::max).max(1e-6) * 1.15;
    let x = |v: f64| m + v / max_x * (w - 2.0 * m);
    let y = |v: f64| h - m - v * (h - 2.0 * m);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        w / 2.0,
        escape(title)
    );
    s.push_str(&format!("<line x1=\"{m}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n<line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{}\" stroke=\"black\"/>\n", h - m, w - m, h - m, h - m));
    for i in 0..=5 {
        let v = i as f64 / 5.0;
        s.push_str(&format!("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.0}%</text>\n", m - 6.0, y(v) + 4.0, v * 100.0));
        let xv = max_x * v;
        s.push_str(&format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{:.1}</text>\n", x(xv), h - m + 18.0, xv));
    }
    s.push_str(&format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">generated tokens/s</text>\n", w / 2.0, h - 20.0));
    s.push_str(&format!("<text x=\"18\" y=\"{}\" transform=\"rotate(-90 18 {})\" text-anchor=\"middle\">accuracy (95% CI)</text>\n", h / 2.0, h / 2.0));
    let colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
    for (i, r) in rows.iter().enumerate() {
        let c = colours[i % colours.len()];
        let (px, py) = (x(speed(r)), y(r.accuracy));
        s.push_str(&format!("<line x1=\"{px}\" y1=\"{}\" x2=\"{px}\" y2=\"{}\" stroke=\"{c}\"/>\n", y(r.ci95.0), y(r.ci95.1)));
        s.push_str(&format!("<circle cx=\"{px}\" cy=\"{py}\" r=\"5\" fill=\"{c}\"/>\n<text x=\"{}\" y=\"{}\">{}</text>\n", px + 8.0, py - 6.0, escape(&r.mode)));
    }
    s.push_str("</svg>\n");
    s
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
