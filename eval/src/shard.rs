//! One process's share of a problem list, so several processes (one GPU, or several machines
//! sharing a folder) run an eval or a rollout round side by side. Problem `i` of the list goes
//! to shard `i % count`: the list is ordered originals first, so any prefix of every shard's
//! work covers the templates evenly. The shards append to one records or rollouts file, each
//! record in a single write, and the results never depend on how the work was cut.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole list in one process.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn takes(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    pub fn is_all(&self) -> bool {
        self.count == 1
    }
}

impl Default for Shard {
    fn default() -> Shard {
        Shard::ALL
    }
}

impl FromStr for Shard {
    type Err = String;

    /// "I/N" with 0 <= I < N.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("shard {s:?}: expected I/N with 0 <= I < N, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_list() {
        let shards: Vec<Shard> = (0..3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        for pos in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.takes(pos)).count(), 1, "position {pos}");
        }
        assert!(Shard::ALL.takes(7) && Shard::ALL.is_all());
        assert_eq!(shards[2].to_string(), "2/3");
    }

    #[test]
    fn bad_shards_are_refused() {
        for s in ["3/3", "0/0", "1", "a/2", "1/-2", ""] {
            assert!(s.parse::<Shard>().is_err(), "{s:?} accepted");
        }
    }
}
