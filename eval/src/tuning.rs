//! Tuning the heuristic arbiters' thresholds on the train split, so the learned arbiter is
//! compared with each rule at its best and not at its defaults: every rule's grid of points
//! runs as eval modes (`grid:RULE` expands to `cospec:RULE=V1[/V2]`, one mode per point), and
//! the point each rule scores best with on train is the one scored, once, on dev.

use crate::report::Row;

/// Each rule's points, in the order `Policy::from_spec` takes its thresholds. They span the
/// rule's useful range around its default (entropy tau 2, cosd 0.5/0.5, chow 0.3, diff 0,
/// opt 0.5), from keeping almost nothing to keeping most mismatches.
pub const GRIDS: [(&str, &[&[f32]]); 5] = [
    ("entropy", &[&[0.5], &[1.0], &[1.5], &[2.0], &[3.0]]),
    ("cosd", &[&[0.3, 0.3], &[0.3, 0.5], &[0.3, 0.8], &[0.5, 0.3], &[0.5, 0.5], &[0.5, 0.8], &[0.7, 0.3], &[0.7, 0.5], &[0.7, 0.8]]),
    ("chow", &[&[0.1], &[0.2], &[0.3], &[0.5]]),
    ("diff", &[&[0.0], &[0.05], &[0.1], &[0.2]]),
    ("opt", &[&[0.25], &[0.5], &[1.0], &[2.0]]),
];

/// `grid:RULE` as the rule's modes, one per point; any other mode as itself.
pub fn expand(mode: &str) -> Result<Vec<String>, String> {
    let Some(rule) = mode.strip_prefix("grid:") else {
        return Ok(vec![mode.to_string()]);
    };
    let Some((_, points)) = GRIDS.iter().find(|(name, _)| *name == rule) else {
        let names: Vec<&str> = GRIDS.iter().map(|g| g.0).collect();
        return Err(format!("no grid for {rule:?} (grids: {})", names.join(", ")));
    };
    Ok(points.iter().map(|p| format!("cospec:{rule}={}", p.iter().map(f32::to_string).collect::<Vec<_>>().join("/"))).collect())
}

/// A rule's best point in a table.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Tuned {
    pub rule: String,
    pub mode: String,
    pub correct: usize,
    pub problems: usize,
    pub keep_share: f64,
    /// Points of the rule in the table.
    pub points: usize,
}

/// For every rule with points in `rows` (modes `cospec:RULE=...`), the one with the most
/// correct answers; ties go to the one that keeps fewer draft tokens (nearer to SPD's
/// lossless output and speed), then to the first. Rules in order of first appearance.
pub fn pick(rows: &[Row]) -> Vec<Tuned> {
    let mut picks: Vec<Tuned> = Vec::new();
    for r in rows {
        let Some((rule, _)) = r.mode.strip_prefix("cospec:").and_then(|m| m.split_once('=')) else {
            continue;
        };
        let candidate = Tuned { rule: rule.to_string(), mode: r.mode.clone(), correct: r.correct, problems: r.problems, keep_share: r.keep_share, points: 1 };
        match picks.iter_mut().find(|t| t.rule == rule) {
            None => picks.push(candidate),
            Some(best) => {
                let points = best.points + 1;
                if (candidate.correct, -candidate.keep_share) > (best.correct, -best.keep_share) {
                    *best = candidate;
                }
                best.points = points;
            }
        }
    }
    picks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{rows, Record};

    fn record(mode: &str, problem: usize, correct: bool, keeps: usize) -> Record {
        serde_json::from_value(serde_json::json!({"mode": mode, "problem": format!("t{problem}v0"), "correct": correct, "extracted": null,
            "answer": "1", "tokens": 10, "seconds": 1.0, "target_passes": 4, "mismatches": 4, "keeps": keeps}))
        .unwrap()
    }

    #[test]
    fn grids_expand_to_one_mode_a_point() {
        let cosd = expand("grid:cosd").unwrap();
        assert_eq!(cosd.len(), 9);
        assert_eq!(cosd[1], "cospec:cosd=0.3/0.5");
        assert_eq!(expand("grid:entropy").unwrap()[1], "cospec:entropy=1");
        assert_eq!(expand("spd").unwrap(), ["spd"]);
        assert!(expand("grid:target").unwrap_err().contains("no grid for \"target\""));
    }

    #[test]
    fn the_most_accurate_point_wins_and_ties_keep_less() {
        let modes: Vec<String> = ["spd", "cospec:chow=0.1", "cospec:chow=0.2", "cospec:chow=0.3", "cospec:diff=0", "cospec:diff=0.1"].map(String::from).to_vec();
        // chow=0.2 and chow=0.3 both answer 3 of 4, chow=0.3 keeping less; diff's two points tie
        // in both, so the first stands.
        let right = |m: &str, p: usize| match m {
            "cospec:chow=0.1" => p < 2,
            "cospec:chow=0.2" | "cospec:chow=0.3" => p < 3,
            _ => p < 1,
        };
        let keeps = |m: &str| if m == "cospec:chow=0.3" { 1 } else { 2 };
        let records: Vec<Record> = modes.iter().flat_map(|m| (0..4).map(move |p| record(m, p, right(m, p), keeps(m)))).collect();
        let picks = pick(&rows(&records, &modes));
        assert_eq!(picks.len(), 2);
        assert_eq!((picks[0].rule.as_str(), picks[0].mode.as_str(), picks[0].correct, picks[0].problems, picks[0].points), ("chow", "cospec:chow=0.3", 3, 4, 3));
        assert_eq!((picks[1].mode.as_str(), picks[1].points), ("cospec:diff=0", 2));
    }
}
