//! Grading a model's answer to a math word problem: extract its final number and compare it
//! numerically with the reference. The final number is, in order of preference: the last
//! `\boxed{...}`, the number after the last `####`, the number after the last "answer is",
//! else the last number in the text. Commas between digits, currency signs, percent signs,
//! trailing units and `.0` do not matter; `\frac{a}{b}` and `a/b` are divided out.

/// The number a response commits to, if any.
pub fn extract_answer(text: &str) -> Option<f64> {
    if let Some(inner) = last_boxed(text) {
        if let Some(v) = parse_number_text(&inner) {
            return Some(v);
        }
    }
    for marker in ["####", "answer is", "Answer:", "answer:"] {
        if let Some(at) = text.rfind(marker) {
            if let Some(v) = first_number(&text[at + marker.len()..]) {
                return Some(v);
            }
        }
    }
    last_number(text)
}

/// Whether `response`'s final number equals `reference` (itself a number, maybe with commas).
pub fn is_correct(response: &str, reference: &str) -> bool {
    match (extract_answer(response), parse_number_text(reference)) {
        (Some(a), Some(b)) => numbers_equal(a, b),
        _ => false,
    }
}

pub fn numbers_equal(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// The content of the last `\boxed{...}` (braces balanced).
fn last_boxed(text: &str) -> Option<String> {
    let at = text.rfind("\\boxed{")?;
    let body = &text[at + "\\boxed{".len()..];
    let mut depth = 1;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(body[..i].to_string());
                }
            }
            _ => {}
        }
    }
    None
}

/// A whole answer text as one number: `\frac{a}{b}`, `a/b`, or the first number in it.
fn parse_number_text(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("\\frac{").or_else(|| s.strip_prefix("\\dfrac{")) {
        let (num, rest) = rest.split_once('}')?;
        let den = rest.strip_prefix('{')?.split('}').next()?;
        let (a, b) = (first_number(num)?, first_number(den)?);
        return (b != 0.0).then(|| a / b);
    }
    let numbers = numbers(s);
    if numbers.len() == 2 {
        // "3/4" as a fraction, when the slash sits between the two numbers.
        let (a, b) = (numbers[0], numbers[1]);
        if s.contains('/') && b.1 != 0.0 && s[a.0..].trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ',' || c == '-').trim_start().starts_with('/') {
            return Some(a.1 / b.1);
        }
    }
    numbers.first().map(|n| n.1)
}

fn first_number(s: &str) -> Option<f64> {
    numbers(s).first().map(|n| n.1)
}

fn last_number(s: &str) -> Option<f64> {
    numbers(s).last().map(|n| n.1)
}

/// Every number in `s` with its byte offset: an optional minus, digits with optional thousands
/// commas, an optional decimal part. A sentence's final period is not a decimal point.
fn numbers(s: &str) -> Vec<(usize, f64)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let neg = start > 0 && b[start - 1] == b'-' && (start < 2 || !b[start - 2].is_ascii_alphanumeric());
        let mut digits = String::new();
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_digit() {
                digits.push(c as char);
                i += 1;
            } else if c == b',' && i + 3 < b.len() + 1 && b.get(i + 1).is_some_and(u8::is_ascii_digit) && b.get(i + 2).is_some_and(u8::is_ascii_digit) && b.get(i + 3).is_some_and(u8::is_ascii_digit) && !b.get(i + 4).is_some_and(u8::is_ascii_digit) {
                i += 1;
            } else if c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit) && !digits.contains('.') {
                digits.push('.');
                i += 1;
            } else {
                break;
            }
        }
        if let Ok(v) = digits.parse::<f64>() {
            out.push((if neg { start - 1 } else { start }, if neg { -v } else { v }));
        }
    }
    out
}
