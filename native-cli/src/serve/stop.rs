//! Stop strings over streamed text: text is released only once no stop string can begin in
//! it, so a client never receives the first half of a stop string, and the cut always falls
//! on a character boundary (the pieces are whole UTF-8 strings).

pub struct StopFilter {
    stops: Vec<String>,
    /// Text received but not yet released: it may be the start of a stop string.
    held: String,
    stopped: bool,
}

impl StopFilter {
    pub fn new(stops: Vec<String>) -> StopFilter {
        StopFilter { stops: stops.into_iter().filter(|s| !s.is_empty()).collect(), held: String::new(), stopped: false }
    }

    /// Takes the next piece and returns the text that is now safe to send. After a stop
    /// string is seen, returns the text before it and then nothing.
    pub fn push(&mut self, piece: &str) -> String {
        if self.stopped {
            return String::new();
        }
        self.held.push_str(piece);
        if let Some(at) = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min() {
            self.stopped = true;
            let out = self.held[..at].to_string();
            self.held.clear();
            return out;
        }
        // Keep the longest tail that is a proper prefix of some stop string.
        let keep = self
            .stops
            .iter()
            .flat_map(|s| (1..s.len()).filter(|&n| s.is_char_boundary(n)).map(move |n| &s[..n]))
            .filter(|prefix| self.held.ends_with(prefix))
            .map(str::len)
            .max()
            .unwrap_or(0);
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_string();
        self.held.drain(..cut);
        out
    }

    /// The generation ended without a stop string: everything held is text.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    pub fn stopped(&self) -> bool {
        self.stopped
    }
}

#[cfg(test)]
mod tests {
    use super::StopFilter;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let mut f = StopFilter::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = String::new();
        for p in pieces {
            out += &f.push(p);
        }
        let stopped = f.stopped();
        out += &f.finish();
        (out, stopped)
    }

    #[test]
    fn a_stop_string_split_across_pieces_is_never_sent() {
        let mut f = StopFilter::new(vec!["END".into()]);
        assert_eq!(f.push("abc E"), "abc ");
        assert_eq!(f.push("N"), "");
        assert_eq!(f.push("D and more"), "");
        assert!(f.stopped());
        assert_eq!(f.finish(), "");
    }

    #[test]
    fn a_false_start_is_released() {
        assert_eq!(run(&["END"], &["E", "N", "x"]), ("ENx".to_string(), false));
        assert_eq!(run(&["\n\n"], &["a\n", "b"]), ("a\nb".to_string(), false));
    }

    #[test]
    fn the_earliest_of_several_stop_strings_wins() {
        assert_eq!(run(&["yz", "b"], &["ab", "c yz"]), ("a".to_string(), true));
    }

    #[test]
    fn multibyte_stop_strings_cut_on_character_boundaries() {
        assert_eq!(run(&["é!"], &["caf", "é", "!", "x"]), ("caf".to_string(), true));
        assert_eq!(run(&["日本"], &["今日", "は"]), ("今日は".to_string(), false));
    }

    #[test]
    fn no_stop_strings_release_everything_at_once() {
        let mut f = StopFilter::new(vec![String::new()]);
        assert_eq!(f.push("abc"), "abc");
    }
}
