//! SentencePiece-style tokenization from GGUF metadata (tokenizer model `llama`: Llama 2,
//! Mistral, TinyLlama, Gemma), done the way llama.cpp does it so that both engines give the
//! same ids for the same file: special tokens are split off first (longest first), spaces
//! become `▁`, then adjacent pieces are merged greedily by the merged piece's score, and any
//! character left without a token is written as its UTF-8 bytes (`<0xXX>` tokens).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// What a token is, from `tokenizer.ggml.token_type` (llama.cpp's numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Undefined,
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl Kind {
    pub fn from_type(t: i64) -> Kind {
        match t {
            1 => Kind::Normal,
            2 => Kind::Unknown,
            3 => Kind::Control,
            4 => Kind::UserDefined,
            5 => Kind::Unused,
            6 => Kind::Byte,
            _ => Kind::Undefined,
        }
    }

    /// Matched whole in the text before the piece merging runs.
    fn is_special(self) -> bool {
        matches!(self, Kind::Control | Kind::UserDefined | Kind::Unknown)
    }
}

pub struct Spm {
    tokens: Vec<String>,
    scores: Vec<f32>,
    kinds: Vec<Kind>,
    ids: HashMap<String, u32>,
    /// Special tokens, longest text first (ties: lower id first).
    specials: Vec<u32>,
    add_space_prefix: bool,
}

const SPACE_MARK: &str = "\u{2581}";

impl Spm {
    /// `scores` and `kinds` as long as `tokens`; errors name what is wrong with the vocabulary.
    pub fn new(mut tokens: Vec<String>, scores: Vec<f32>, kinds: Vec<Kind>, add_space_prefix: bool) -> Result<Spm, String> {
        if scores.len() != tokens.len() || kinds.len() != tokens.len() {
            return Err(format!("{} tokens, {} scores, {} token types", tokens.len(), scores.len(), kinds.len()));
        }
        if tokens.len() > u32::MAX as usize {
            return Err("more tokens than 32-bit ids can name".into());
        }
        if let Some(i) = scores.iter().position(|s| s.is_nan()) {
            return Err(format!("token {i} has a NaN score"));
        }
        let mut ids = HashMap::with_capacity(tokens.len());
        for (i, t) in tokens.iter_mut().enumerate() {
            // llama.cpp renames empty tokens so that none can match an empty piece.
            if t.is_empty() {
                *t = format!("[EMPTY_{i}]");
            }
            if let Some(first) = ids.insert(t.clone(), i as u32) {
                return Err(format!("token {t:?} appears twice (ids {first} and {i})"));
            }
        }
        let mut specials: Vec<u32> = (0..tokens.len() as u32).filter(|&i| kinds[i as usize].is_special()).collect();
        specials.sort_by_key(|&i| std::cmp::Reverse(tokens[i as usize].len()));
        Ok(Spm { tokens, scores, kinds, ids, specials, add_space_prefix })
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    pub fn id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    pub fn vocab(&self) -> HashMap<String, u32> {
        self.ids.clone()
    }

    /// Token ids of `text`; special tokens written in the text become their ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        let mut out = Vec::new();
        let mut prev_special = true;
        for frag in self.partition(text) {
            match frag {
                Fragment::Token(id) => {
                    out.push(id);
                    prev_special = true;
                }
                Fragment::Text(a, b) => {
                    let mut piece = String::with_capacity(b - a + 1);
                    if self.add_space_prefix && prev_special {
                        piece.push(' ');
                    }
                    piece.push_str(&text[a..b]);
                    self.merge_pieces(&piece.replace(' ', SPACE_MARK), &mut out)?;
                    prev_special = false;
                }
            }
        }
        Ok(out)
    }

    /// The bytes of `ids` as text; control and unknown tokens only when `special`. A leading
    /// space is never removed: a stream decodes windows of tokens, and each must keep its own.
    pub fn decode(&self, ids: &[u32], special: bool) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            let (Some(text), Some(&kind)) = (self.tokens.get(id as usize), self.kinds.get(id as usize)) else { continue };
            match kind {
                Kind::Control | Kind::Unknown if special => bytes.extend_from_slice(text.as_bytes()),
                Kind::UserDefined => bytes.extend_from_slice(text.as_bytes()),
                Kind::Normal => bytes.extend_from_slice(text.replace(SPACE_MARK, " ").as_bytes()),
                Kind::Byte => bytes.extend(byte_of(text)),
                _ => {}
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Splits off every special token, longest first, each at every place it occurs in the
    /// text still unsplit (llama.cpp's order, so overlapping specials resolve the same way).
    fn partition(&self, text: &str) -> Vec<Fragment> {
        let mut frags = if text.is_empty() { vec![] } else { vec![Fragment::Text(0, text.len())] };
        let mut present = [false; 256];
        for &b in text.as_bytes() {
            present[b as usize] = true;
        }
        for &id in &self.specials {
            let s = self.tokens[id as usize].as_str();
            if !present[s.as_bytes()[0] as usize] || !text.contains(s) {
                continue;
            }
            let mut next = Vec::with_capacity(frags.len() + 2);
            for f in frags {
                let Fragment::Text(mut a, b) = f else {
                    next.push(f);
                    continue;
                };
                while let Some(at) = text[a..b].find(s) {
                    if at > 0 {
                        next.push(Fragment::Text(a, a + at));
                    }
                    next.push(Fragment::Token(id));
                    a += at + s.len();
                }
                if a < b {
                    next.push(Fragment::Text(a, b));
                }
            }
            frags = next;
        }
        frags
    }

    /// Merges adjacent pieces, best-scoring merged piece first (ties: leftmost), until no
    /// adjacent pair forms a token; a character no token holds becomes its bytes.
    fn merge_pieces(&self, text: &str, out: &mut Vec<u32>) -> Result<(), String> {
        let mut syms: Vec<Symbol> = Vec::new();
        for (start, ch) in text.char_indices() {
            let i = syms.len();
            syms.push(Symbol { start, len: ch.len_utf8(), prev: i.checked_sub(1), next: None });
            if i > 0 {
                syms[i - 1].next = Some(i);
            }
        }
        let mut queue = BinaryHeap::new();
        for i in 1..syms.len() {
            self.push_bigram(text, &syms, i - 1, i, &mut queue);
        }
        while let Some(bg) = queue.pop() {
            let (l, r) = (syms[bg.left], syms[bg.right]);
            // Stale: one side was merged into something else since this pair was queued.
            if l.len == 0 || r.len == 0 || l.len + r.len != bg.size {
                continue;
            }
            syms[bg.left].len += r.len;
            syms[bg.right].len = 0;
            syms[bg.left].next = r.next;
            if let Some(n) = r.next {
                syms[n].prev = Some(bg.left);
            }
            if let Some(p) = l.prev {
                self.push_bigram(text, &syms, p, bg.left, &mut queue);
            }
            if let Some(n) = r.next {
                self.push_bigram(text, &syms, bg.left, n, &mut queue);
            }
        }
        let mut at = if syms.is_empty() { None } else { Some(0) };
        while let Some(i) = at {
            let s = syms[i];
            let piece = &text[s.start..s.start + s.len];
            match self.id(piece) {
                Some(id) => out.push(id),
                None => {
                    for &b in piece.as_bytes() {
                        out.push(self.byte_token(b)?);
                    }
                }
            }
            at = s.next;
        }
        Ok(())
    }

    fn push_bigram(&self, text: &str, syms: &[Symbol], left: usize, right: usize, queue: &mut BinaryHeap<Bigram>) {
        let size = syms[left].len + syms[right].len;
        let piece = &text[syms[left].start..syms[left].start + size];
        if let Some(id) = self.id(piece) {
            queue.push(Bigram { left, right, score: self.scores[id as usize], size });
        }
    }

    fn byte_token(&self, b: u8) -> Result<u32, String> {
        let name = format!("<0x{b:02X}>");
        self.id(&name)
            .or_else(|| std::str::from_utf8(&[b]).ok().and_then(|s| self.id(s)))
            .ok_or_else(|| format!("the vocabulary has no token for byte {name}, which the text needs"))
    }
}

/// `<0xXX>` -> the byte (nothing for a byte token with another name).
fn byte_of(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    u8::from_str_radix(hex, 16).ok()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fragment {
    Text(usize, usize),
    Token(u32),
}

#[derive(Clone, Copy)]
struct Symbol {
    start: usize,
    /// 0 once merged into the symbol on its left.
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

struct Bigram {
    left: usize,
    right: usize,
    score: f32,
    size: usize,
}

impl PartialEq for Bigram {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Bigram {
    /// Higher score pops first; on a tie, the leftmost pair. Scores are never NaN (checked at
    /// load), so this order is total.
    fn cmp(&self, o: &Self) -> Ordering {
        self.score.partial_cmp(&o.score).unwrap_or(Ordering::Equal).then(o.left.cmp(&self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(entries: &[(&str, f32, i64)]) -> Spm {
        let mut toks: Vec<String> = entries.iter().map(|e| e.0.to_string()).collect();
        let mut scores: Vec<f32> = entries.iter().map(|e| e.1).collect();
        let mut kinds: Vec<Kind> = entries.iter().map(|e| Kind::from_type(e.2)).collect();
        for b in 0..=255u8 {
            toks.push(format!("<0x{b:02X}>"));
            scores.push(0.0);
            kinds.push(Kind::Byte);
        }
        Spm::new(toks, scores, kinds, true).unwrap()
    }

    #[test]
    fn best_scoring_merge_wins_and_unknown_characters_become_bytes() {
        let v = vocab(&[("<s>", 0.0, 3), ("▁", -1.0, 1), ("a", -2.0, 1), ("b", -2.0, 1), ("ab", -5.0, 1), ("▁a", -3.0, 1)]);
        // "▁ab": ▁a (-3) beats ab (-5), and "▁a" + "b" does not merge further.
        assert_eq!(v.encode("ab").unwrap(), vec![5, 3]);
        // "é" has no token: its two UTF-8 bytes.
        let e = v.encode("é").unwrap();
        assert_eq!(e, vec![1, 6 + 0xC3, 6 + 0xA9]);
        assert_eq!(v.decode(&e, false), " é");
        // A special token splits the text, and the text after it gets its own space prefix.
        assert_eq!(v.encode("a<s>a").unwrap(), vec![5, 0, 5]);
        assert_eq!(v.decode(&[5, 0, 5], false), " a a");
        assert_eq!(v.decode(&[5, 0, 5], true), " a<s> a");
    }

    #[test]
    fn equal_scores_merge_leftmost_first() {
        let v = Spm::new(["a", "aa"].map(String::from).to_vec(), vec![-1.0, -1.0], vec![Kind::Normal; 2], false).unwrap();
        assert_eq!(v.encode("aaa").unwrap(), vec![1, 0]);
    }

    #[test]
    fn longer_specials_split_first() {
        let v = vocab(&[("\n", 0.0, 4), ("\n\n", 0.0, 4), ("x", -1.0, 1)]);
        let ids = v.encode("x\n\n\nx").unwrap();
        assert_eq!(ids.iter().filter(|&&i| i < 2).copied().collect::<Vec<_>>(), vec![1, 0]);
    }

    #[test]
    fn hostile_vocabularies_are_errors() {
        let t = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let refused = |r: Result<Spm, String>| r.err().expect("the vocabulary was accepted");
        assert!(refused(Spm::new(t(&["a", "a"]), vec![0.0; 2], vec![Kind::Normal; 2], true)).contains("twice"));
        assert!(refused(Spm::new(t(&["a", "b"]), vec![0.0, f32::NAN], vec![Kind::Normal; 2], true)).contains("NaN"));
        refused(Spm::new(t(&["a"]), vec![], vec![Kind::Normal], true));
        // A character with neither a token nor byte tokens is an error, not a panic.
        let v = Spm::new(t(&["a"]), vec![0.0], vec![Kind::Normal], false).unwrap();
        assert!(v.encode("é").unwrap_err().contains("<0xC3>"));
    }
}
