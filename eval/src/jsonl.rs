//! Append-only JSON-lines files (eval records, rollouts): each append is whole lines in one
//! write, so processes sharing a file never interleave, and a line torn by a run killed
//! mid-write is fenced off with a newline before the next append, so it costs only itself
//! (without the fence the next record would be glued onto the fragment and lost with it).

// Callers name the bound of `read` without depending on serde themselves.
pub use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// What a file held: its readable lines' values, and the 1-based numbers of the lines that
/// did not parse (a torn last line, or a hand edit).
pub struct Loaded<T> {
    pub items: Vec<T>,
    pub unreadable: Vec<usize>,
}

/// Every line that parses as a `T`; a missing file is an empty one.
pub fn read<T: DeserializeOwned>(path: &Path) -> std::io::Result<Loaded<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    Ok(parse(&text))
}

/// Every line of `text` that parses as a `T`.
pub fn parse<T: DeserializeOwned>(text: &str) -> Loaded<T> {
    let (mut items, mut unreadable) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(v) => items.push(v),
            Err(_) => unreadable.push(i + 1),
        }
    }
    Loaded { items, unreadable }
}

/// The file opened for appending (created if missing), a torn last line closed first.
pub fn open_append(path: &Path) -> std::io::Result<File> {
    let mut f = std::fs::OpenOptions::new().create(true).read(true).append(true).open(path)?;
    let len = f.metadata()?.len();
    if len > 0 {
        let mut last = [0u8];
        f.seek(SeekFrom::Start(len - 1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            f.write_all(b"\n")?;
        }
    }
    Ok(f)
}

/// Appends `lines` (each without its newline) in one write.
pub fn append_lines(file: &mut File, lines: &[String]) -> std::io::Result<()> {
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    file.write_all(text.as_bytes())?;
    file.flush()
}
